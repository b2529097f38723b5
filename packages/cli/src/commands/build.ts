/**
 * `wharf build [build.ts] -o type=…,dest=… [-t name]`: the direct backend (no Docker daemon) by
 * default, or `--backend docker` (docker build with BuildKit); both write the same kinds of output.
 * `wharf build -f Dockerfile [context]` builds a Dockerfile the same way.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type BuildGraph, build, lowerDockerfile, WharfError } from '@wharf/core';
import { type ParseResult, parseDockerfile } from '@wharf/core/dockerfile';
import { parseCompression, parseOutput } from '@wharf/core/export';
import type * as oci from '@wharf/core/oci';
import type { RegistryOptions } from '@wharf/core/registry';
import { type Command, Option } from 'commander';
import {
  collect,
  collectPlatforms,
  parseAllow,
  parseBuildArgs,
  parseBuildContextFlags,
  parseSecrets,
} from '../flags.js';
import { interruptSignal } from '../interrupt.js';
import { type LoadedDefinition, loadDefinition } from '../load-definition.js';
import { PROGRESS_MODES, type ProgressMode, progressSink } from '../render/progress.js';
import { version } from '../version.js';
import { type AttestFlags, parseAttestFlags, provenanceOption, sbomOption, signOption } from './attest.js';
import { type LintMode, lintBeforeBuild, lintInput, lintModeOption } from './lint.js';
import { lockedBuildGraph } from './lock.js';

interface BuildFlags extends AttestFlags {
  readonly locked?: boolean;
  readonly file?: string;
  readonly output?: string[];
  readonly tag?: string[];
  readonly target?: string;
  readonly buildArg?: string[];
  readonly buildContext?: string[];
  readonly platform?: oci.Platform[];
  readonly progress: ProgressMode;
  readonly cacheDir?: string;
  readonly backend: 'direct' | 'docker';
  readonly cache: boolean;
  readonly cacheTo?: string[];
  readonly cacheFrom?: string[];
  readonly pull?: boolean;
  readonly secret?: string[];
  readonly allow?: string[];
  readonly registryMirror?: string[];
  readonly insecureRegistry?: string[];
  readonly caFile?: string;
  readonly push?: boolean;
  readonly compression?: string;
  readonly lint: LintMode;
}

export function registerBuild(program: Command): void {
  program
    .command('build')
    .description('build an image without a Docker daemon and write it where -o says')
    .argument('[definition]', 'build.ts, or with -f the build context folder')
    .option(
      '-f, --file <Dockerfile>',
      'build a Dockerfile instead of build.ts; the argument is then the context (default .)',
    )
    .option(
      '-o, --output <spec>',
      'type=oci,dest=DIR | type=oci-archive,dest=FILE | type=docker-archive,dest=FILE (repeatable)',
      collect,
    )
    .option('-t, --tag <name>', 'image name recorded in the output (repeatable)', collect)
    .option('--target <name>', 'the stage or target to build')
    .option('--build-arg <name=value>', 'set a build argument (repeatable)', collect)
    .option(
      '--build-context <name=source>',
      'NAME=oci-layout://DIR[:TAG|@DIGEST], NAME=docker-image://REF or NAME=DIR for FROM/COPY --from NAME (repeatable)',
      collect,
    )
    .option(
      '--platform <os/arch>',
      'target platform(s): linux/amd64,linux/arm64 (comma list or repeated; several make one OCI index; default: define({ platforms }), else this machine)',
      collectPlatforms,
    )
    // an unknown mode (`fancy`) is a usage error (exit 2), not silently plain output
    .addOption(
      new Option('--progress <mode>', 'auto | plain | tty | json | quiet')
        .choices(PROGRESS_MODES)
        .default('auto'),
    )
    .option('--cache-dir <dir>', 'where blobs are kept (default: $XDG_CACHE_HOME/wharf)')
    .addOption(
      new Option('--backend <name>', 'direct (no daemon) | docker (docker build with BuildKit)')
        .choices(['direct', 'docker'])
        .default('direct'),
    )
    .option(
      '--compression <format>',
      'layer compression: gzip (default) | zstd[,level=N] (also -o …,compression=zstd)',
    )
    .option('--push', 'push the image to the registry each -t name points at (same as -o type=registry)')
    .option('--no-cache', 'run every step again (results are still cached for next time)')
    .option(
      '--cache-to <type=registry,ref=REF|type=local,dest=DIR>',
      'export the step cache after a successful build (repeatable); options: mode=min|max, mounts=true (cache mounts too), mount-limit=SIZE, compression=gzip|zstd (docs/remote-cache.md)',
      collect,
    )
    .option(
      '--cache-from <type=registry,ref=REF|type=local,src=DIR>',
      'import a step cache exported before; several are tried in order (repeatable)',
      collect,
    )
    .option('--pull', 'ask the registry for every base image tag (default: reuse one pulled before)')
    .option('--secret <id=…,src=…|env=…>', 'a secret for RUN --mount=type=secret (repeatable)', collect)
    .option(
      '--allow <entitlement>',
      'grant network.host (RUN --network=host) or security.insecure (RUN --security=insecure) (repeatable)',
      collect,
    )
    .addOption(registryMirrorOption())
    .addOption(insecureRegistryOption())
    .addOption(caFileOption())
    .option('--locked', 'fail when a base is missing from wharf.lock or its tag moved since')
    .addOption(lintModeOption())
    .addOption(sbomOption())
    .addOption(provenanceOption())
    .addOption(signOption())
    .action(async (definition: string | undefined, flags: BuildFlags) => {
      // Bad -o specs, --allow values and attestation flags fail before any work is done.
      const allow = parseAllow(flags.allow);
      const outputs = (flags.output ?? []).map((spec) => parseOutput(spec));
      if (flags.push && !outputs.some((o) => o.type === 'registry'))
        outputs.push(parseOutput('type=registry'));
      const attestation = parseAttestFlags(
        flags,
        outputs.some((o) => o.type === 'registry' || o.type === 'oci'),
      );
      const {
        graph: defined,
        contextDir,
        lint,
        platforms,
        cacheFrom,
        cacheTo,
        dockerfile,
      } = await loadGraph(definition, flags);
      const progress = progressSink(flags.progress);
      const onEvent = progress.sink;
      if (outputs.length === 0) {
        onEvent({
          type: 'warning',
          message: 'no output given: the image will be built but not written',
          hint: 'add -o type=oci-archive,dest=image.tar',
        });
      }
      let result: Awaited<ReturnType<typeof build>>;
      try {
        const graph = await lockedBuildGraph(defined, definition, flags, registrySettings(flags), onEvent);
        await lintBeforeBuild(
          flags.lint,
          lintInput(definition, flags),
          { graph, lint, ...(dockerfile ? { dockerfile } : {}) },
          onEvent,
        );
        const registry = registrySettings(flags);
        result = await build(graph, {
          contextDir,
          output: outputs,
          tags: flags.tag ?? [],
          buildArgs: parseBuildArgs(flags.buildArg),
          buildContexts: parseBuildContextFlags(flags.buildContext),
          noCache: !flags.cache,
          ...((flags.cacheTo?.length ? flags.cacheTo : cacheTo)?.length
            ? { cacheTo: flags.cacheTo?.length ? flags.cacheTo : cacheTo }
            : {}),
          ...((flags.cacheFrom?.length ? flags.cacheFrom : cacheFrom)?.length
            ? { cacheFrom: flags.cacheFrom?.length ? flags.cacheFrom : cacheFrom }
            : {}),
          pull: flags.pull ?? false,
          secrets: parseSecrets(flags.secret),
          allow,
          ...(flags.compression ? { compression: parseCompression(flags.compression) } : {}),
          ...(flags.target ? { target: flags.target } : {}),
          // --platform, else the definition's `define({ platforms })`
          ...(flags.platform?.length ? { platforms: flags.platform } : platforms ? { platforms } : {}),
          ...(flags.cacheDir ? { cacheDir: flags.cacheDir } : {}),
          backend: flags.backend,
          registry,
          ...(attestation.sbom ? { sbom: attestation.sbom } : {}),
          ...(attestation.provenance ? { provenance: attestation.provenance } : {}),
          ...(attestation.sign ? { sign: attestation.sign } : {}),
          definitionFile: flags.file ?? definition ?? 'build.ts',
          builder: { id: 'https://wharf.dev/builder/wharf-cli', version },
          signal: interruptSignal(),
          onEvent,
        });
      } finally {
        progress.close();
      }
      // stdout: the index digest (several platforms), the manifest digest when an output holds the
      // gzip image (oci, oci-archive, registry), else the image ID, as `docker build -q` prints it.
      process.stdout.write(`${result.digest}\n`);
    });
}

async function loadGraph(
  definition: string | undefined,
  flags: BuildFlags,
): Promise<
  Pick<LoadedDefinition, 'lint' | 'platforms' | 'cacheFrom' | 'cacheTo'> & {
    graph: BuildGraph;
    contextDir: string;
    /** `-f`: the Dockerfile's text and parse, which the lint before the build reads too. */
    dockerfile?: { readonly text: string; readonly parsed: ParseResult };
  }
> {
  if (flags.file === undefined) {
    const loaded = await loadDefinition(
      definition ?? 'build.ts',
      flags.target,
      flags.cacheDir ? { cacheDir: flags.cacheDir } : {},
    );
    return { ...loaded, graph: loaded.graph, contextDir: loaded.dir };
  }
  let text: string;
  try {
    text = await readFile(flags.file, 'utf8');
  } catch (error) {
    throw new WharfError(
      'CLI_DOCKERFILE_NOT_FOUND',
      `cannot read ${flags.file}: ${(error as Error).message}`,
      {
        hint: 'pass the path of an existing Dockerfile with -f',
      },
    );
  }
  // Parsed once: the lint before the build reads the same parse. Build args decide which stage a
  // `FROM ${ARG}` names, as in BuildKit.
  const parsed = parseDockerfile(text, { file: flags.file });
  const graph = lowerDockerfile(parsed, { file: flags.file, buildArgs: parseBuildArgs(flags.buildArg) });
  return { graph, contextDir: resolve(definition ?? '.'), dockerfile: { text, parsed } };
}

/** `--registry-mirror`, `--insecure-registry`, `--ca-file`: how build and bake reach registries. */
export const registryMirrorOption = () =>
  new Option(
    '--registry-mirror <url>',
    'pull Docker Hub images through this mirror first (repeatable)',
  ).argParser(collect);
export const insecureRegistryOption = () =>
  new Option(
    '--insecure-registry <host>',
    'reach this registry over plain HTTP (repeatable; loopback always)',
  ).argParser(collect);
export const caFileOption = () =>
  new Option('--ca-file <pem>', 'trust this CA for registries (besides the system CAs)');

/** Registry settings from the flags (mirrors, insecure hosts, CA). */
export function registrySettings(
  flags: Pick<BuildFlags, 'registryMirror' | 'insecureRegistry' | 'caFile'>,
): RegistryOptions {
  return {
    ...(flags.registryMirror?.length ? { mirrors: flags.registryMirror } : {}),
    ...(flags.insecureRegistry?.length ? { insecure: flags.insecureRegistry } : {}),
    ...(flags.caFile ? { caFile: flags.caFile } : {}),
  };
}
