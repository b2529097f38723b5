/**
 * RUN in the direct backend: resolves the instruction's mounts (sources inside their trees), runs it in an OCI
 * runtime over a snapshot of the stage's layers (runtime/), and turns the change set into a layer.
 * The step cache key covers what the command can see: the parent chain, the config, the ARGs, the
 * command, and the content of what is bound into it (never secret values, never cache mounts).
 */
import { lstat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { WharfError } from '../errors.js';
import { resolveOnDisk } from '../fsutil/disk.js';
import type { Layer } from '../image/types.js';
import { expandWord, type Lookup } from '../ir/expand.js';
import type { FromRef, Mount, RunInstruction } from '../ir/types.js';
import type { ContainerConfig } from '../oci/types.js';
import type { ResolvedMount } from '../runtime/mounts.js';
import { commandArgv } from './metadata.js';

/** Where a mount's `from` points, resolved by the engine: a directory on the host and what identifies it. */
export interface MountedTree {
  readonly dir: string;
  /** A digest (or content summary) of the tree, for the step's cache key. */
  readonly identity: string;
  release(): Promise<void>;
}

export interface RunMountContext {
  /** The main context folder (a bind without `from`). */
  readonly contextDir: string;
  /** The content identity of a context-relative directory or file, for cache keys. */
  contextIdentity(path: string): Promise<string>;
  /** Makes another stage, an image or a named context available on the host. */
  openFrom(from: FromRef): Promise<MountedTree>;
}

export interface ResolvedRun {
  readonly command: string[];
  readonly mounts: ResolvedMount[];
  /** Identities of what the step reads through bind mounts and seeds, by mount target. */
  readonly inputs: Record<string, string>;
  readonly secretIds: string[];
  release(): Promise<void>;
}

/** The argv to run: exec form, shell form under SHELL, or a lone heredoc's script under SHELL. */
export function runCommand(instruction: RunInstruction, config: ContainerConfig): string[] {
  const heredocs = instruction.heredocs ?? [];
  if (heredocs.length === 0) return commandArgv(instruction.command, config);
  const only = heredocs[0];
  const lone =
    heredocs.length === 1 &&
    only !== undefined &&
    instruction.command.form === 'shell' &&
    /^<<-?(["']?)[A-Za-z0-9_.-]+\1$/.test(instruction.command.script.trim());
  if (!lone) {
    throw new WharfError(
      'ENGINE_HEREDOC_UNSUPPORTED',
      'RUN with heredocs passed to a command is not supported by the direct backend yet',
      {
        hint: 'use a single RUN <<EOF script, or a multi-line .run() string',
      },
    );
  }
  const content = only.chomp ? only.content.replace(/^\t+/gm, '') : only.content;
  return commandArgv({ form: 'shell', script: content }, config);
}

/** Resolves the IR mounts of a RUN to runtime mounts (Words expanded, `from` made into host paths). */
export async function resolveRun(
  instruction: RunInstruction,
  config: ContainerConfig,
  lookup: Lookup,
  ctx: RunMountContext,
): Promise<ResolvedRun> {
  const expand = (word: string) => expandWord(word, lookup);
  const opened: MountedTree[] = [];
  const inputs: Record<string, string> = {};
  const secretIds: string[] = [];
  const mounts: ResolvedMount[] = [];
  const release = async () => {
    for (const tree of opened) await tree.release();
  };
  try {
    for (const mount of instruction.mounts ?? []) {
      mounts.push(await resolveMount(mount));
    }
  } catch (error) {
    await release();
    throw error;
  }
  return { command: runCommand(instruction, config), mounts, inputs, secretIds, release };

  /**
   * A bind or cache source: `path` resolved inside its tree (the context, a stage's or an image's root
   * filesystem, a named context) by the one resolver, as BuildKit does — every symlink on the way,
   * absolute or relative, stays inside the tree, `..` stops at its root. The runtime opens it again
   * inside the same root (see runtime/mounts.ts), so what is checked here is what gets mounted.
   */
  async function source(
    from: FromRef | undefined,
    path: string | undefined,
    type: 'bind' | 'cache',
  ): Promise<{ root: string; path: string; identity: string }> {
    const given = path ?? '/';
    const tree = from === undefined ? undefined : await ctx.openFrom(from);
    if (tree) opened.push(tree);
    const root = tree?.dir ?? ctx.contextDir;
    const rel = await resolveOnDisk(root, given);
    if (!(await exists(join(root, rel)))) {
      const written = posix.normalize(`/${given}`).replace(/(.)\/$/, '$1');
      const shown = `/${rel}` === written ? `"${written}"` : `"/${rel}" (from "${given}")`;
      throw new WharfError(
        'RUN_MOUNT_SOURCE_NOT_FOUND',
        `RUN --mount=type=${type}: source ${shown} not found in ${describeFrom(from)}`,
        {
          hint: 'check source=: it is a path inside that tree, and symlinks in it are resolved inside the tree too (they cannot point to the host)',
        },
      );
    }
    const identity = tree ? `${tree.identity}:/${rel}` : await ctx.contextIdentity(rel);
    return { root, path: rel, identity };
  }

  async function resolveMount(mount: Mount): Promise<ResolvedMount> {
    const octal = (mode: string | undefined) =>
      mode === undefined ? {} : { mode: Number.parseInt(mode, 8) };
    const ids = (m: { uid?: number; gid?: number }) => ({
      ...(m.uid === undefined ? {} : { uid: m.uid }),
      ...(m.gid === undefined ? {} : { gid: m.gid }),
    });
    switch (mount.type) {
      case 'bind': {
        const target = expand(mount.target);
        const { root, path, identity } = await source(
          mount.from,
          mount.source === undefined ? undefined : expand(mount.source),
          'bind',
        );
        inputs[`bind ${target}`] = identity;
        return {
          type: 'bind',
          target,
          root,
          source: path,
          ...(mount.readwrite ? { readwrite: true } : {}),
        };
      }
      case 'cache': {
        const target = expand(mount.target);
        const seed =
          mount.from === undefined
            ? undefined
            : await source(mount.from, mount.source ? expand(mount.source) : undefined, 'cache');
        return {
          type: 'cache',
          target,
          ...(mount.id ? { id: expand(mount.id) } : {}),
          ...(mount.sharing ? { sharing: mount.sharing } : {}),
          ...(mount.readonly ? { readonly: true } : {}),
          ...(seed ? { seed: { root: seed.root, path: seed.path } } : {}),
          ...octal(mount.mode),
          ...ids(mount),
        };
      }
      case 'secret': {
        const target = mount.target === undefined ? undefined : expand(mount.target);
        const id = mount.id ? expand(mount.id) : target ? (target.split('/').pop() ?? '') : '';
        secretIds.push(id);
        return {
          type: 'secret',
          id,
          ...(target ? { target } : {}),
          ...(mount.env ? { env: mount.env } : {}),
          ...(mount.required ? { required: true } : {}),
          ...octal(mount.mode),
          ...ids(mount),
        };
      }
      case 'ssh':
        return {
          type: 'ssh',
          ...(mount.id ? { id: expand(mount.id) } : {}),
          ...(mount.target ? { target: expand(mount.target) } : {}),
          ...(mount.required ? { required: true } : {}),
        };
      case 'tmpfs':
        return {
          type: 'tmpfs',
          target: expand(mount.target),
          ...(mount.size === undefined ? {} : { size: mount.size }),
        };
    }
  }
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

function describeFrom(from: FromRef | undefined): string {
  if (from === undefined) return 'the build context';
  switch (from.kind) {
    case 'stage':
      return `stage ${from.stage}`;
    case 'image':
      return `image ${from.ref}`;
    case 'context':
      return `build context "${from.name}"`;
  }
}

export type { Layer };
