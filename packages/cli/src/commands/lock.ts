/**
 * `wharf lock [build.ts | -f Dockerfile] [--update [REF…]]`: resolves every base image tag the definition
 * uses to its digest (the index's for a multi-platform image) and writes `wharf.lock` beside the
 * definition. Bases already locked are kept unless `--update` names them (or, alone, all); bases no stage
 * uses any more are dropped. Builds then use the locked digests; `wharf build --locked` fails when a base
 * is missing from the lock or its tag has moved.
 */
import { dirname, join, relative, resolve } from 'node:path';
import type { BuildGraph, EventSink } from '@wharf/core';
import * as lock from '@wharf/core/lock';
import type { RegistryOptions } from '@wharf/core/registry';
import type { Command } from 'commander';
import { collect, parseBuildArgs, parseBuildContextFlags } from '../flags.js';
import { loadDefinition } from '../load-definition.js';
import { writeFileAtomic } from '../write-file.js';
import { readDockerfile } from './convert.js';
import { type RegistryFlags, registryOptions, registryOptionsFrom } from './pull.js';

interface LockFlags extends RegistryFlags {
  readonly file?: string;
  readonly target?: string;
  readonly buildArg?: string[];
  readonly update?: true | string[];
  readonly registryMirror?: string[];
}

export function registerLock(program: Command): void {
  const command = program
    .command('lock')
    .description('pin every base image tag to its digest in wharf.lock, beside the definition')
    .argument('[definition]', 'the build definition', 'build.ts')
    .option('-f, --file <Dockerfile>', 'lock the bases of this Dockerfile instead of a build.ts')
    .option('--update [refs...]', 'ask the registry again: for every base, or only the ones named')
    .option('--target <name>', 'the target to lock when the definition has several')
    .option('--build-arg <name=value>', 'a build argument a FROM line uses (repeatable)', collect)
    .option('--registry-mirror <url>', 'try this mirror first for Docker Hub images (repeatable)', collect);
  registryOptions(command).action(async (definition: string, flags: LockFlags, cmd: Command) => {
    const buildArgs = parseBuildArgs(flags.buildArg);
    const { graph, dir } =
      flags.file === undefined
        ? await loadDefinition(definition, flags.target)
        : { graph: await readDockerfile(flags.file, buildArgs), dir: dirname(resolve(flags.file)) };
    const registry = {
      ...registryOptionsFrom(flags, cmd),
      ...(flags.registryMirror?.length ? { mirrors: flags.registryMirror } : {}),
    };
    const { file, next, changes } = await writeLock(graph, dir, {
      update: flags.update,
      buildArgs,
      registry,
    });
    for (const change of changes) {
      const was = change.previous ? ` (was ${change.previous})` : '';
      process.stdout.write(`${change.key} ${change.digest} ${change.status}${was}\n`);
    }
    if (!flags.quiet) {
      const count = Object.keys(next.images).length;
      process.stderr.write(
        `wrote ${relative(process.cwd(), file) || file}: ${count} base${count === 1 ? '' : 's'}\n`,
      );
    }
  });
}

/**
 * What `wharf build` builds: the definition's graph with its bases pinned to the wharf.lock beside it
 * (build.ts's folder, or the Dockerfile's with -f), if there is one; `--locked` fails when a base is
 * missing from it or its tag moved.
 */
export function lockedBuildGraph(
  graph: BuildGraph,
  definition: string | undefined,
  flags: {
    readonly file?: string | undefined;
    readonly locked?: boolean | undefined;
    readonly buildArg?: string[] | undefined;
    readonly buildContext?: string[] | undefined;
  },
  registry: RegistryOptions,
  onEvent: EventSink,
): Promise<BuildGraph> {
  return lock.lockedGraph(graph, {
    dir: dirname(resolve(flags.file ?? definition ?? 'build.ts')),
    locked: flags.locked,
    registry,
    buildArgs: parseBuildArgs(flags.buildArg),
    buildContexts: parseBuildContextFlags(flags.buildContext),
    onEvent,
  });
}

/** For `wharf lint`: which base references the wharf.lock beside `definition` (a file) pins. */
export async function lockedBases(definition: string): Promise<(ref: string) => boolean> {
  const found = await lock.readLock(dirname(resolve(definition)));
  return (ref) => found !== undefined && lock.isLocked(found, ref);
}

/**
 * Locks `graph`'s bases into the wharf.lock in `dir` (kept entries as they are, the rest asked of the
 * registry) and writes it: `wharf lock` and `wharf init --lock`.
 */
export async function writeLock(
  graph: BuildGraph,
  dir: string,
  options: Omit<lock.LockBasesOptions, 'current'>,
): Promise<{ file: string; next: lock.LockFile; changes: readonly lock.LockChange[] }> {
  const { lock: next, changes } = await lock.lockBases(graph, {
    ...options,
    current: (await lock.readLock(dir)) ?? lock.EMPTY_LOCK,
  });
  const file = join(dir, lock.LOCK_FILE);
  await writeFileAtomic(file, lock.formatLock(next));
  return { file, next, changes };
}

/** Registry settings for locking: the registry flags and `--registry-mirror`. */
export function lockRegistry(
  flags: RegistryFlags & { readonly registryMirror?: string[] | undefined },
  command: Command,
): RegistryOptions {
  return {
    ...registryOptionsFrom(flags, command),
    ...(flags.registryMirror?.length ? { mirrors: flags.registryMirror } : {}),
  };
}
