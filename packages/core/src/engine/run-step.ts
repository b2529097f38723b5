/**
 * RUN in the direct backend: resolves the instruction's mounts (sources inside their trees), runs it in an OCI
 * runtime over a snapshot of the stage's layers (runtime/), and turns the change set into a layer.
 * The step cache key covers what the command can see: the parent chain, the config, the ARGs, the
 * command, and the content of what is bound into it (never secret values, never cache mounts).
 */
import { chmod, lstat, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
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
  /** For a tree with no digest (a context folder): the content identity of a path in it. */
  identityOf?(path: string): Promise<string>;
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

/** Where a lone heredoc with a shebang is mounted, as BuildKit's Dockerfile frontend mounts it. */
export const HEREDOC_SCRIPT_DIR = '/dev/pipes';

/** What a RUN runs: the argv, and for a lone heredoc that starts with `#!` the script file it names. */
export interface RunCommand {
  readonly argv: string[];
  /** Written as `<HEREDOC_SCRIPT_DIR>/<name>`, mode 0755, and mounted read-only; `argv` runs it. */
  readonly script?: { readonly name: string; readonly content: string };
}

/**
 * The command of a RUN: exec form, shell form under SHELL, or a lone heredoc (`RUN <<EOF`). A lone
 * heredoc whose body starts with `#!` is a script file run by its own interpreter, as BuildKit runs it
 * (written to `/dev/pipes/<NAME>`, mode 0755, on a read-only mount); any other lone heredoc's body is
 * the script of SHELL (`/bin/sh -c <body>`).
 *
 * @example
 * runCommand(run, config); // RUN <<EOF\n#!/usr/bin/env python3\n… → { argv: ['/dev/pipes/EOF'], script: { name: 'EOF', … } }
 */
export function runCommand(instruction: RunInstruction, config: ContainerConfig): RunCommand {
  const heredocs = instruction.heredocs ?? [];
  if (heredocs.length === 0) return { argv: commandArgv(instruction.command, config) };
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
  if (content.startsWith('#!')) {
    if (/^\.+$/.test(only.name)) {
      throw new WharfError(
        'ENGINE_HEREDOC_UNSUPPORTED',
        `RUN <<${only.name}: a script heredoc needs a file name`,
        {
          hint: 'name the heredoc with a word such as EOF: its body is run as /dev/pipes/<name>',
        },
      );
    }
    return { argv: [posix.join(HEREDOC_SCRIPT_DIR, only.name)], script: { name: only.name, content } };
  }
  return { argv: commandArgv({ form: 'shell', script: content }, config) };
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
  let scriptDir: string | undefined;
  const release = async () => {
    for (const tree of opened) await tree.release();
    if (scriptDir !== undefined) await rm(scriptDir, { recursive: true, force: true });
  };
  const command = runCommand(instruction, config);
  try {
    for (const mount of instruction.mounts ?? []) {
      mounts.push(await resolveMount(mount));
    }
    if (command.script) {
      scriptDir = await mkdtemp(join(tmpdir(), 'wharf-heredoc-'));
      await chmod(scriptDir, 0o755); // readable by the step's user, whoever it is
      await writeFile(join(scriptDir, command.script.name), command.script.content, { mode: 0o755 });
      await chmod(join(scriptDir, command.script.name), 0o755); // not narrowed by the umask
      mounts.push({ type: 'bind', target: HEREDOC_SCRIPT_DIR, source: scriptDir });
      inputs[`script ${command.argv[0]}`] = 'heredoc'; // the body is in the key already; this marks how it runs
    }
  } catch (error) {
    await release();
    throw error;
  }
  return { command: command.argv, mounts, inputs, secretIds, release };

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
    const identity = !tree
      ? await ctx.contextIdentity(rel)
      : tree.identityOf
        ? await tree.identityOf(rel)
        : `${tree.identity}:/${rel}`;
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
