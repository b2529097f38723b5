/**
 * `wharf pull REF [-o type=oci,dest=DIR] [--platform os/arch|all]`: fetch an image into the local store
 * (config and layers verified, blobs already there skipped) and optionally write it out. A
 * multi-platform image is kept whole (its index, every platform) with `--platform all`, and for an
 * `-o type=oci|oci-archive` output when no `--platform` is given, as crane's `pull --format=oci` does;
 * otherwise one platform is picked (this machine's by default). Also home of the registry flags and the
 * progress lines the other registry commands share.
 */
import { defaultStoreRoot, openStore, recordBase } from '@wharf/core/engine';
import { exportImage, parseOutput } from '@wharf/core/export';
import type { Image, ImageIndex } from '@wharf/core/image';
import type { Reference } from '@wharf/core/oci';
import { pullAll, pullImage, type RegistryEvent, type RegistryOptions } from '@wharf/core/registry';
import type { Command } from 'commander';
import { formatBytes } from '../render/size.js';

/** Flags every registry command takes. */
export interface RegistryFlags {
  readonly insecureRegistry?: readonly string[];
  readonly caFile?: string;
  readonly quiet?: boolean;
}

const collect = (value: string, previous: readonly string[] = []): string[] => [...previous, value];

/** Adds `--insecure-registry`, `--ca-file` and `--quiet` to a command. */
export function registryOptions(command: Command): Command {
  return command
    .option(
      '--insecure-registry <host>',
      'reach this registry over plain HTTP (repeatable; loopback is always allowed)',
      collect,
    )
    .option('--ca-file <pem>', 'trust this CA certificate for the registry (besides the system CAs)')
    .option('-q, --quiet', 'print only the result');
}

/** RegistryOptions from flags; `--debug` (global) turns on redacted HTTP tracing to stderr. */
export function registryOptionsFrom(flags: RegistryFlags, command: Command): RegistryOptions {
  const debug = Boolean(command.optsWithGlobals().debug);
  return {
    ...(flags.insecureRegistry?.length ? { insecure: flags.insecureRegistry } : {}),
    ...(flags.caFile ? { caFile: flags.caFile } : {}),
    ...(debug ? { debug: (line: string) => process.stderr.write(`wharf: debug: ${line}\n`) } : {}),
    ...(flags.quiet ? {} : { onEvent: renderEvent }),
  };
}

const short = (digest: string): string => digest.replace(/^sha256:/, '').slice(0, 12);
const mb = formatBytes;

/** One line per finished blob (progress in between is left to the tty renderer). */
export function renderEvent(event: RegistryEvent): void {
  switch (event.type) {
    case 'blob-exists':
      process.stderr.write(`${short(event.digest)}: already there\n`);
      return;
    case 'blob-mounted':
      process.stderr.write(`${short(event.digest)}: mounted from ${event.from}\n`);
      return;
    case 'blob-resumed':
      process.stderr.write(`${short(event.digest)}: resuming at ${mb(event.offset)} of ${mb(event.size)}\n`);
      return;
    case 'blob-pushed':
      process.stderr.write(
        `${short(event.digest)}: pushed ${mb(event.size)}${event.sent < event.size ? ` (sent ${mb(event.sent)})` : ''}\n`,
      );
      return;
    case 'blob-fetched':
      process.stderr.write(`${short(event.digest)}: pulled ${mb(event.size)}\n`);
      return;
    case 'blob-cached':
      process.stderr.write(`${short(event.digest)}: already in the store\n`);
      return;
    case 'retry':
      process.stderr.write(`wharf: retrying ${event.operation} in ${event.delayMs} ms (${event.reason})\n`);
      return;
    case 'mirror-fallback':
      process.stderr.write(
        `wharf: mirror ${event.mirror} failed (${event.reason}); trying the next source\n`,
      );
      return;
    case 'warning':
      process.stderr.write(`wharf: warning: ${event.message}\n`);
      return;
    case 'manifest-pushed':
    case 'blob-progress':
      return;
  }
}

interface PullFlags extends RegistryFlags {
  readonly output?: string;
  readonly platform?: string;
  readonly registryMirror?: readonly string[];
  readonly cacheDir?: string;
}

export function registerPull(program: Command): void {
  const command = program
    .command('pull')
    .description('pull an image from a registry into the local store, and optionally write it out')
    .argument('<ref>', 'the image, e.g. node:20 or ghcr.io/org/app:1.0')
    .option(
      '-o, --output <spec>',
      'also write it: type=oci,dest=DIR | type=oci-archive,dest=FILE | type=docker-archive,dest=FILE',
    )
    .option(
      '--platform <os/arch|all>',
      'the platform to pick from a multi-platform image, or all to keep the whole index (default: all for -o type=oci|oci-archive, else linux on this machine)',
    )
    .option('--registry-mirror <url>', 'try this mirror first for Docker Hub images (repeatable)', collect)
    .option('--cache-dir <dir>', 'the cache to pull into (default: $XDG_CACHE_HOME/wharf), as for build');
  registryOptions(command).action(async (ref: string, flags: PullFlags, cmd: Command) => {
    const output = flags.output === undefined ? undefined : parseOutput(flags.output);
    const whole =
      flags.platform === 'all' ||
      (flags.platform === undefined && (output?.type === 'oci' || output?.type === 'oci-archive'));
    const store = await openStore({ root: flags.cacheDir ?? defaultStoreRoot() });
    const options = {
      ...registryOptionsFrom(flags, cmd),
      store,
      ...(flags.registryMirror?.length ? { mirrors: flags.registryMirror } : {}),
    };
    let pulled: {
      content: Image | ImageIndex;
      reference: Reference;
      digest: string;
      platforms: readonly string[];
    };
    let counts: { fetched: number; cached: number; bytes: number };
    if (whole) {
      const result = await pullAll(ref, options);
      pulled = result;
      counts = result;
    } else {
      const result = await pullImage(ref, {
        ...options,
        ...(flags.platform ? { platform: flags.platform } : {}),
      });
      // a build FROM this reference can use it without the registry (until --pull)
      await recordBase(store, ref, flags.platform, result.image);
      pulled = { content: result.image, reference: result.reference, digest: result.digest, platforms: [] };
      counts = result;
    }
    if (output) await exportImage(pulled.content, output, { tags: [pulled.reference.toString()] });
    process.stdout.write(`${pulled.reference.toString()}@${pulled.digest}\n`);
    if (!flags.quiet) {
      const platforms = pulled.platforms.length ? ` for ${pulled.platforms.join(', ')}` : '';
      process.stderr.write(
        `pulled ${counts.fetched} blob(s)${platforms}, ${formatBytes(counts.bytes)}; ${counts.cached} already in the store\n`,
      );
    }
  });
}
