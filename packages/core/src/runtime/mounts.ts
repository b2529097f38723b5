/**
 * `RUN --mount` for the runtime: the engine resolves the IR's mounts (Words expanded, `from` turned
 * into a directory on disk) into {@link ResolvedMount}s; this module prepares each on the host (cache
 * directories and their locks, secret files, copy-on-write binds) and describes it for the bundle.
 * Nothing a mount provides is ever part of the change set: mounts never write into the snapshot's
 * tree. Mount points that had to be created stay as empty directories, as BuildKit 20.10 leaves them;
 * file stubs are removed again ({@link mountStubs}).
 */
import { createHash } from 'node:crypto';
import { chmod, chown, lstat, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { type OpenedInRoot, openInRoot } from '../fsutil/disk.js';
import type { SpecMount } from './bundle.js';
import { RuntimeError } from './errors.js';
import { execTool } from './exec.js';
import { acquireLock, type Lock } from './lock.js';
import { insidePath } from './userns.js';

export type CacheSharing = 'shared' | 'private' | 'locked';

/** A mount for one RUN step, with everything the engine knows resolved. Targets are container paths. */
export type ResolvedMount =
  | {
      readonly type: 'cache';
      readonly target: string;
      /** Default: the target. Caches with the same id share a directory across steps and builds. */
      readonly id?: string;
      /** Default `shared`. */
      readonly sharing?: CacheSharing;
      readonly readonly?: boolean;
      /** Mode of a new cache directory, default 0o755. */
      readonly mode?: number;
      readonly uid?: number;
      readonly gid?: number;
      /** `from` + `source`: a directory (`path` inside the tree `root`) whose contents seed a new cache. */
      readonly seed?: { readonly root: string; readonly path: string };
    }
  | {
      readonly type: 'bind';
      readonly target: string;
      /**
       * With `root`, a path inside that tree (the build context, another stage's rootfs…), resolved
       * there: no symlink in it can lead out of `root`. Without, a host path the caller vouches for.
       */
      readonly source: string;
      readonly root?: string;
      /** Writable for the step; the writes are discarded afterwards. Default read-only. */
      readonly readwrite?: boolean;
    }
  | {
      readonly type: 'secret';
      readonly id: string;
      /** Default `/run/secrets/<id>` (unless only `env` is asked for). */
      readonly target?: string;
      /** Also (or only, without `target`) expose the value as this environment variable. */
      readonly env?: string;
      readonly required?: boolean;
      /** Default 0o400. */
      readonly mode?: number;
      readonly uid?: number;
      readonly gid?: number;
    }
  | {
      readonly type: 'ssh';
      /** Default `default` (the `SSH_AUTH_SOCK` agent). */
      readonly id?: string;
      /** Default `/run/buildkit/ssh_agent.<n>`. */
      readonly target?: string;
      readonly required?: boolean;
    }
  | {
      readonly type: 'tmpfs';
      readonly target: string;
      /** Bytes. */
      readonly size?: number;
    };

/** Where a secret's value comes from (what `--secret id=…,src=…|env=…` gives the build). */
export type SecretSource =
  | { readonly path: string }
  | { readonly env: string }
  | { readonly value: string | Uint8Array };

export interface MountContext {
  /** The step's working directory (relative targets resolve against it). */
  readonly cwd: string;
  /** Where cache mounts live: `<cacheRoot>/<sha256(id)>/data`. */
  readonly cacheRoot: string;
  /** A private directory for this step (copies, generated files); removed by the caller. */
  readonly scratch: string;
  /** Copy-on-write binds use overlayfs when true, a copy otherwise. */
  readonly overlay: boolean;
  readonly secrets: Readonly<Record<string, SecretSource>>;
  /** ssh id → agent socket; `default` falls back to `SSH_AUTH_SOCK`. */
  readonly ssh: Readonly<Record<string, string>>;
  readonly env: NodeJS.ProcessEnv;
  /**
   * A private tmpfs directory for secret files, where the bundle is written too (private-dir.ts);
   * without one, secrets are refused.
   */
  readonly secretDir?: string;
  readonly signal?: AbortSignal;
}

/** A mount point the step needs inside the rootfs. */
export interface MountPoint {
  /** Absolute container path, before symlink resolution. */
  readonly target: string;
  readonly kind: 'dir' | 'file';
}

export interface PreparedMounts {
  readonly specMounts: readonly SpecMount[];
  readonly points: readonly MountPoint[];
  /** `KEY=VALUE` added to the step's environment (secret `env=`, `SSH_AUTH_SOCK`). */
  readonly env: readonly string[];
  /** Releases locks, unmounts copy-on-write binds, deletes secret files. Always call it. */
  cleanup(): Promise<void>;
}

/** A mount point as created in the rootfs before the step (`createInRoot`'s result). */
export interface MadeMountPoint {
  readonly kind: 'dir' | 'file';
  /** The resolved clean path of the target (no leading `/`). */
  readonly path: string;
  /** Clean paths created for it, parents first. */
  readonly created: readonly string[];
}

/** What runc mounts over the rootfs before the step's own mounts (clean paths, with a trailing `/`). */
const RUNTIME_MOUNTS = ['proc/', 'dev/', 'sys/'];

/**
 * The created paths to delete again after the step, as BuildKit 20.10's runc executor leaves the
 * rootfs: runc makes the missing mount points, BuildKit's stub cleaner then removes the empty *files*
 * it made (a secret's or a file bind's target, `/etc/hosts`…) and keeps the directories (a dir target,
 * the parents of any target). A point below another directory mount is made by runc inside that
 * mount, so it never reaches the rootfs: what wharf created for it here goes too — below `/proc`,
 * `/dev` and `/sys` as well, which runc mounts first (a script heredoc's `/dev/pipes`). Deeper paths first.
 */
export function mountStubs(points: readonly MadeMountPoint[]): string[] {
  const mounted = [
    ...RUNTIME_MOUNTS,
    ...points.filter((p) => p.kind === 'dir' && p.path !== '').map((p) => `${p.path}/`),
  ];
  const below = (path: string) => mounted.some((dir) => path.startsWith(dir));
  const out = new Set<string>();
  for (const point of points) {
    for (const path of point.created) {
      if ((path === point.path && point.kind === 'file') || below(path)) out.add(path);
    }
  }
  return [...out].sort((a, b) => b.length - a.length);
}

/** Prepares `mounts` on the host. On error everything prepared so far is cleaned up. */
export async function prepareMounts(
  mounts: readonly ResolvedMount[],
  ctx: MountContext,
): Promise<PreparedMounts> {
  const cleanups: (() => Promise<void>)[] = [];
  const specMounts: SpecMount[] = [];
  const points: MountPoint[] = [];
  const env: string[] = [];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) await fn().catch(() => {});
    cleanups.length = 0;
  };
  let sshCount = 0;
  let n = 0;
  try {
    for (const mount of mounts) {
      n++;
      switch (mount.type) {
        case 'cache': {
          const target = absoluteTarget(mount.target, ctx.cwd);
          const source = await prepareCache(mount, ctx, n, cleanups);
          specMounts.push(bind(target, source, !mount.readonly));
          points.push({ target, kind: 'dir' });
          break;
        }
        case 'bind': {
          const target = absoluteTarget(mount.target, ctx.cwd);
          const src = await openSource(mount.root ?? mount.source, mount.root ? mount.source : '');
          try {
            const source = mount.readwrite
              ? await copyOnWrite(src, ctx, n, cleanups)
              : await stageSource(src, ctx, n, cleanups);
            specMounts.push(bind(target, source, mount.readwrite ?? false));
          } finally {
            await src.close();
          }
          points.push({ target, kind: src.isDirectory ? 'dir' : 'file' });
          break;
        }
        case 'secret': {
          const value = await secretValue(mount, ctx);
          if (value === undefined) break;
          if (mount.env) {
            // the value goes into the bundle's config.json, which is on disk without a private tmpfs
            if (!ctx.secretDir) throw noTmpfsForSecrets(mount.id);
            env.push(`${mount.env}=${value.toString('utf8')}`);
          }
          if (mount.env && mount.target === undefined) break;
          const target = absoluteTarget(mount.target ?? `/run/secrets/${mount.id}`, ctx.cwd);
          const file = await writeSecret(value, mount, ctx, cleanups);
          specMounts.push(bind(target, file, false));
          points.push({ target, kind: 'file' });
          break;
        }
        case 'ssh': {
          const id = mount.id ?? 'default';
          const socket = ctx.ssh[id] ?? (id === 'default' ? ctx.env.SSH_AUTH_SOCK : undefined);
          if (!socket || !(await lstat(socket).catch(() => undefined))) {
            if (mount.required) {
              throw new RuntimeError(
                'RUN_SSH_MISSING',
                `ssh agent "${id}" is required by the step, but none was given`,
                {
                  hint: 'start an agent (eval $(ssh-agent); ssh-add) so SSH_AUTH_SOCK is set, or pass --ssh default',
                },
              );
            }
            break;
          }
          const target = absoluteTarget(mount.target ?? `/run/buildkit/ssh_agent.${sshCount}`, ctx.cwd);
          if (sshCount === 0) env.push(`SSH_AUTH_SOCK=${target}`);
          sshCount++;
          specMounts.push(bind(target, socket, true));
          points.push({ target, kind: 'file' });
          break;
        }
        case 'tmpfs': {
          const target = absoluteTarget(mount.target, ctx.cwd);
          const options = ['nosuid', 'nodev', 'mode=1777', ...(mount.size ? [`size=${mount.size}`] : [])];
          specMounts.push({ destination: target, type: 'tmpfs', source: 'tmpfs', options });
          points.push({ target, kind: 'dir' });
          break;
        }
      }
    }
  } catch (error) {
    await cleanup();
    throw error;
  }
  // Parents before children, as runc mounts them in order.
  specMounts.sort((a, b) => depth(a.destination) - depth(b.destination));
  return { specMounts, points, env, cleanup };
}

/** Checks secrets and ssh agents before any work is done (a missing required one fails the step). */
export async function checkMountInputs(
  mounts: readonly ResolvedMount[],
  ctx: Pick<MountContext, 'secrets' | 'ssh' | 'env'>,
): Promise<void> {
  for (const mount of mounts) {
    if (mount.type === 'secret' && mount.required) await secretValue(mount, ctx); // throws when missing
    if (mount.type === 'ssh' && mount.required) {
      const id = mount.id ?? 'default';
      const socket = ctx.ssh[id] ?? (id === 'default' ? ctx.env.SSH_AUTH_SOCK : undefined);
      if (!socket) {
        throw new RuntimeError(
          'RUN_SSH_MISSING',
          `ssh agent "${id}" is required by the step, but none was given`,
          {
            hint: 'start an agent (eval $(ssh-agent); ssh-add) so SSH_AUTH_SOCK is set, or pass --ssh default',
          },
        );
      }
    }
  }
}

function depth(p: string): number {
  return p.split('/').filter(Boolean).length;
}

function absoluteTarget(target: string, cwd: string): string {
  if (target.trim() === '') throw new RuntimeError('RUN_BAD_MOUNT', 'a mount needs a target path');
  return posix.resolve(cwd || '/', target);
}

function bind(destination: string, source: string, writable: boolean): SpecMount {
  return { destination, type: 'bind', source, options: ['rbind', writable ? 'rw' : 'ro'] };
}

/** A cache mount's id: its `id=`, else its target made absolute against the step's working directory. */
export function cacheMountId(mount: { readonly id?: string; readonly target: string }, cwd: string): string {
  return mount.id || absoluteTarget(mount.target, cwd);
}

/** Where cache mount `id` lives: `<cacheRoot>/<hash>`, holding `data` (the content) and `id`. */
export function cacheMountBase(cacheRoot: string, id: string): string {
  return join(cacheRoot, createHash('sha256').update(id).digest('hex').slice(0, 32));
}

/** The cache's directory (created, seeded, owned as asked on first use), with its sharing applied. */
async function prepareCache(
  mount: Extract<ResolvedMount, { type: 'cache' }>,
  ctx: MountContext,
  n: number,
  cleanups: (() => Promise<void>)[],
): Promise<string> {
  const id = cacheMountId(mount, ctx.cwd);
  const base = cacheMountBase(ctx.cacheRoot, id);
  const data = join(base, 'data');
  try {
    await mkdir(base, { recursive: true, mode: 0o700 });
    if (!(await stat(data).catch(() => undefined))) {
      const tmp = await mkdtemp(join(base, 'new-'));
      if (mount.seed) await seedCache(mount.seed, tmp);
      await chmod(tmp, mount.mode ?? 0o755);
      if (process.getuid?.() === 0) await chown(tmp, mount.uid ?? 0, mount.gid ?? 0);
      await writeFile(join(base, 'id'), id);
      await rename(tmp, data).catch(async () => rm(tmp, { recursive: true, force: true }));
    }
  } catch (cause) {
    throw new RuntimeError('RUN_BAD_MOUNT', `cannot create the cache mount "${id}" under ${ctx.cacheRoot}`, {
      hint: 'make the cache directory writable, or point --cache-dir somewhere writable',
      cause,
    });
  }
  const sharing = mount.sharing ?? 'shared';
  if (sharing === 'shared') return data;
  const lockPath = join(base, 'lock');
  const lock: Lock | undefined = await acquireLock(lockPath, {
    wait: sharing === 'locked',
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  });
  if (lock) {
    cleanups.push(() => lock.release());
    return data;
  }
  // private, and someone else holds it: a private copy for this step, thrown away afterwards
  const copy = join(ctx.scratch, `cache-${n}`);
  const result = await execTool('cp', ['-a', '--reflink=auto', data, copy]);
  if (result.code !== 0)
    throw new RuntimeError('RUN_BAD_MOUNT', `cannot copy cache "${id}": ${result.stderr}`);
  cleanups.push(() => rm(copy, { recursive: true, force: true }));
  return copy;
}

/**
 * Opens a bind or cache source inside its tree (see fsutil's openInRoot: resolved there, then reached
 * without following any link). Everything below uses the descriptor, never the path by name.
 */
async function openSource(root: string, path: string): Promise<OpenedInRoot> {
  const opened = await openInRoot(root, path);
  if (!opened) {
    throw new RuntimeError(
      'RUN_BAD_MOUNT',
      `mount source /${path.replace(/^\/+/, '')} does not exist in ${root}`,
      {
        hint: 'check the mount’s source= path (relative to the context or the from= stage)',
      },
    );
  }
  return opened;
}

/** `/proc/self/fd/3` of a tool started with `fds: [opened.handle.fd]`. */
const INHERITED = '/proc/self/fd/3';

/**
 * Where the runtime binds `src` from. Mount options are strings in which `:` `,` `=` separate values,
 * so no user path ever goes into one: when wharf can mount here (root, or root of its own user
 * namespace, where the runtime runs too), the opened source is bind-mounted by descriptor onto a
 * wharf-named staging path in the step's scratch directory, and only that path is used from then on.
 * Rootless without subordinate ids the runtime runs in another mount namespace, which cannot see that
 * mount: the source goes by its resolved path (as seen in that namespace), in which every component was
 * checked not to be a link.
 */
async function stageSource(
  src: OpenedInRoot,
  ctx: MountContext,
  n: number,
  cleanups: (() => Promise<void>)[],
): Promise<string> {
  if (process.getuid?.() !== 0) return insidePath(src.path);
  const base = join(ctx.scratch, `bind-${n}`);
  await mkdir(base, { recursive: true });
  cleanups.push(() => rm(base, { recursive: true, force: true }));
  return bindByDescriptor(src, join(base, 'src'), cleanups);
}

/**
 * A read-only bind mount of an opened file or directory onto `staging` (created), undone by a cleanup.
 * Read-only: the step reads through it (or an overlay above it), and a stale sweep that deletes the
 * run directory of a killed build can never delete the source through it.
 */
async function bindByDescriptor(
  src: OpenedInRoot,
  staging: string,
  cleanups: (() => Promise<void>)[],
): Promise<string> {
  if (src.isDirectory) await mkdir(staging);
  else await writeFile(staging, '', { flag: 'wx' });
  // --no-canonicalize: mount(2) gets /proc/self/fd/3 itself, which the kernel follows to the opened file.
  const result = await execTool('mount', ['--bind', '--no-canonicalize', '-o', 'ro', INHERITED, staging], {
    fds: [src.handle.fd],
  });
  if (result.code !== 0) {
    throw new RuntimeError('RUN_BAD_MOUNT', `cannot bind ${src.path} for the step: ${result.stderr}`);
  }
  cleanups.push(() => unmount(staging));
  return staging;
}

async function unmount(path: string): Promise<void> {
  const r = await execTool('umount', [path]);
  if (r.code !== 0) await execTool('umount', ['-l', path]);
}

/** Copies a seed directory's contents into a new cache directory, through the opened seed. */
async function seedCache(seed: { root: string; path: string }, dest: string): Promise<void> {
  const src = await openSource(seed.root, seed.path);
  try {
    if (!src.isDirectory) {
      throw new RuntimeError('RUN_BAD_MOUNT', `cache mount source /${src.rel} is not a directory`, {
        hint: 'source= of a cache mount names a directory whose contents seed the cache',
      });
    }
    const copy = await execTool('cp', ['-a', '--reflink=auto', `${INHERITED}/.`, dest], {
      fds: [src.handle.fd],
    });
    if (copy.code !== 0) throw new Error(copy.stderr);
  } finally {
    await src.close();
  }
}

/**
 * A writable view of `src` whose writes are discarded: an overlay (or a copy) in the scratch dir. The
 * overlay's options name only the inherited descriptor and wharf's own directories, relative to the
 * mount's working directory: never a user path.
 */
async function copyOnWrite(
  src: OpenedInRoot,
  ctx: MountContext,
  n: number,
  cleanups: (() => Promise<void>)[],
): Promise<string> {
  const base = join(ctx.scratch, `bind-${n}`);
  await mkdir(base, { recursive: true });
  cleanups.push(() => rm(base, { recursive: true, force: true }));
  if (ctx.overlay && src.isDirectory) {
    for (const sub of ['upper', 'work', 'merged']) await mkdir(join(base, sub));
    // The lower is the opened source itself: overlay looks lowerdir up in the mount process, where
    // /proc/self/fd/3 is the inherited descriptor.
    const options = `lowerdir=${INHERITED},upperdir=upper,workdir=work,index=off,redirect_dir=off,metacopy=off`;
    const result = await execTool('mount', ['-t', 'overlay', 'overlay', '-o', options, 'merged'], {
      cwd: base,
      fds: [src.handle.fd],
    });
    if (result.code === 0) {
      cleanups.push(() => unmount(join(base, 'merged')));
      return join(base, 'merged');
    }
    // a lower that overlay refuses (another overlay's upper): fall back to a copy
  }
  const copy = join(base, 'copy');
  // `dir/.` copies the directory the descriptor is; -L follows the descriptor's magic link to a file.
  const args = src.isDirectory
    ? ['-a', '--reflink=auto', `${INHERITED}/.`, copy]
    : ['-L', '--preserve=all', '--reflink=auto', INHERITED, copy];
  const result = await execTool('cp', args, { fds: [src.handle.fd] });
  if (result.code !== 0)
    throw new RuntimeError('RUN_BAD_MOUNT', `cannot copy bind source ${src.path}: ${result.stderr}`);
  return copy;
}

async function secretValue(
  mount: Extract<ResolvedMount, { type: 'secret' }>,
  ctx: Pick<MountContext, 'secrets' | 'env'>,
): Promise<Buffer | undefined> {
  const source = ctx.secrets[mount.id];
  let value: Buffer | undefined;
  if (source && 'path' in source) {
    value = await readFile(source.path).catch((cause) => {
      throw new RuntimeError('RUN_SECRET_MISSING', `secret "${mount.id}": cannot read ${source.path}`, {
        hint: 'check the src= of --secret',
        cause,
      });
    });
  } else if (source && 'env' in source) {
    const text = ctx.env[source.env];
    value = text === undefined ? undefined : Buffer.from(text);
  } else if (source && 'value' in source) {
    value = Buffer.from(source.value);
  }
  if (value === undefined && mount.required) {
    throw new RuntimeError(
      'RUN_SECRET_MISSING',
      `secret "${mount.id}" is required by the step, but was not given`,
      {
        hint: `pass it: --secret id=${mount.id},src=<file> (or env=<VAR>)`,
      },
    );
  }
  return value;
}

/** Writes the secret into the step's private tmpfs directory (never onto a disk), mode 0400 by default. */
async function writeSecret(
  value: Buffer,
  mount: Extract<ResolvedMount, { type: 'secret' }>,
  ctx: MountContext,
  cleanups: (() => Promise<void>)[],
): Promise<string> {
  if (!ctx.secretDir) throw noTmpfsForSecrets(mount.id);
  const dir = await mkdtemp(join(ctx.secretDir, 'secret-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  await chmod(dir, 0o711);
  const file = join(dir, 'value');
  await writeFile(file, value, { mode: 0o600 });
  if (process.getuid?.() === 0) await chown(file, mount.uid ?? 0, mount.gid ?? 0);
  await chmod(file, mount.mode ?? 0o400);
  return file;
}

/** Secrets are kept in memory only: without a tmpfs to hold them, a step that needs one cannot run. */
function noTmpfsForSecrets(id: string): RuntimeError {
  return new RuntimeError('RUN_BAD_MOUNT', `secret "${id}": no tmpfs to keep it in memory`, {
    hint: 'mount a tmpfs on /dev/shm (or set XDG_RUNTIME_DIR to one): wharf never writes secrets to a disk',
  });
}
