/**
 * How this process makes snapshots: overlay or copy (`WHARF_SNAPSHOTTER`, and a test mount), overlay's
 * options and xattr namespace (`trusted.*` as root, `user.*` in a user namespace), and the kind a
 * snapshot root records (who owns extracted files, which xattrs) so that roots made another way are
 * not reused. Used by snapshotter.ts.
 */
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RuntimeError } from './errors.js';
import { execTool } from './exec.js';
import { hasGnuTar, OPAQUE_XATTR, USER_OPAQUE_XATTR, writeOverlayAttrs } from './overlay-attrs.js';
import { idMapping, type UserNamespace } from './userns.js';

export type SnapshotMode = 'overlay' | 'copy';

/**
 * Overlay keeps its xattrs in `user.overlay.*` when mounted in a user namespace: wharf's own (not
 * root) or the one wharf was re-executed in (root there, with subordinate ids).
 */
export function userXattrs(): boolean {
  return process.getuid?.() !== 0 || idMapping().inside;
}

/** How this process writes snapshots: who owns the files, and where overlay's xattrs go. */
export function snapshotKind(): string {
  return `owners=${process.getuid?.() === 0 ? 'kept' : 'caller'} xattrs=${userXattrs() ? 'user' : 'trusted'}`;
}

/** The xattr that marks opaque directories, in extracted layers and upper dirs. */
export function opaqueXattr(): string {
  return userXattrs() ? USER_OPAQUE_XATTR : OPAQUE_XATTR;
}

/**
 * Overlay options that keep the upper dir a plain change set: no index, renamed directories copied
 * up whole (no redirects), whole files copied up (no metacopy). In a user namespace, `userxattr`
 * (overlay's xattrs in `user.overlay.*`), with which redirects may only be `nofollow`.
 */
export function overlayFeatures(): string[] {
  return userXattrs()
    ? ['userxattr', 'index=off', 'redirect_dir=nofollow', 'metacopy=off']
    : ['index=off', 'redirect_dir=off', 'metacopy=off'];
}

/** Runs `mount`/`umount` in `root`: inside `userns` when there is one (wharf not root), else here. */
export function mountTool(
  userns: UserNamespace | undefined,
  root: string,
  tool: string,
  args: readonly string[],
) {
  return userns ? userns.exec(tool, args) : execTool(tool, args, { cwd: root });
}

/** `WHARF_SNAPSHOTTER` (`overlay`, `copy`, `auto`); `auto` when unset. */
export function modeFromEnv(): SnapshotMode | 'auto' {
  const value = process.env.WHARF_SNAPSHOTTER;
  if (value === undefined || value === '') return 'auto';
  if (value === 'overlay' || value === 'copy' || value === 'auto') return value;
  throw new RuntimeError('RUNTIME_SNAPSHOT_FAILED', `WHARF_SNAPSHOTTER=${value} is not a snapshotter`, {
    hint: 'use overlay, copy or auto (the default: overlay where it works, else copy)',
  });
}

/**
 * A snapshot root holds files owned as its user extracted them (root keeps layer owners, another user
 * owns everything) and overlay xattrs of that user's kind: another user's root would give wrong trees.
 */
export async function assertOwnRoot(root: string): Promise<void> {
  const uid = process.getuid?.();
  if (uid === undefined) return;
  const owner = (await stat(root)).uid;
  if (owner !== uid) {
    throw new RuntimeError(
      'RUNTIME_SNAPSHOT_FAILED',
      `the snapshot directory ${root} belongs to uid ${owner}, not to this user (uid ${uid})`,
      { hint: 'give each user a cache directory of their own (--cache-dir)' },
    );
  }
}

/**
 * Overlay leaves `<work>/work` (and, after a `volatile` mount, `work/incompat/volatile/dirty` below it)
 * with mode 0: not even their owner could list them to delete them. Opens them up, parents first.
 */
export async function unlockWorkDir(work: string): Promise<void> {
  let dir = work;
  for (const name of ['work', 'incompat', 'volatile', 'dirty']) {
    dir = join(dir, name);
    await chmod(dir, 0o700).catch(() => {});
  }
}

const probes = new Map<string, Promise<OverlaySupport | undefined>>();

export interface OverlaySupport {
  /**
   * Overlay's `volatile` (Linux ≥ 5.10): no sync when the step's overlay is unmounted. Without it the
   * unmount writes back every dirty page of the upper filesystem — the step's files and any layer just
   * extracted — which was most of a RUN step's diff time. The snapshot root tracks what is not yet
   * known to be on disk instead (snapshot-sync.ts).
   */
  readonly volatile: boolean;
}

/**
 * Overlayfs in the kernel (with `userxattr` in a user namespace), GNU tar, and a test mount in `root`
 * with a whiteout and an opaque directory written the way extraction writes them; undefined when
 * overlay cannot be used there. Whether `volatile` is accepted is found out on the way.
 */
export function overlaySupport(
  root: string,
  userns: UserNamespace | undefined,
): Promise<OverlaySupport | undefined> {
  const key = `${root}\0${userns ? 'userns' : userXattrs() ? 'inside' : 'host'}`;
  let probe = probes.get(key);
  if (!probe) {
    probe = (async () => {
      if (process.platform !== 'linux') return undefined;
      if (process.getuid?.() !== 0 && !userns) return undefined;
      // /proc/filesystems may not list overlay before the module loads on first mount: the test mount decides.
      if (!(await hasGnuTar())) return undefined;
      const dir = await mkdtemp(join(root, 'tmp', 'probe-'));
      try {
        for (const sub of ['l', 'l/d', 'u', 'w', 'w2', 'm']) await mkdir(join(dir, sub));
        await writeFile(join(dir, 'l', 'f'), 'x');
        const attrs = { path: 'd', mode: 0o755, uid: 0, gid: 0 };
        await writeOverlayAttrs(join(dir, 'l'), ['g'], [attrs], opaqueXattr());
        const rel = dir.slice(root.length + 1);
        // a volatile mount leaves work/incompat/volatile, which a later mount of that work dir refuses
        const mounts = async (work: string, extra: readonly string[]): Promise<boolean> => {
          const opts = [
            `lowerdir=${rel}/l`,
            `upperdir=${rel}/u`,
            `workdir=${rel}/${work}`,
            ...overlayFeatures(),
            ...extra,
          ];
          const args = ['-t', 'overlay', 'overlay', '-o', opts.join(','), `${rel}/m`];
          if ((await mountTool(userns, root, 'mount', args)).code !== 0) return false;
          await mountTool(userns, root, 'umount', [join(dir, 'm')]);
          return true;
        };
        if (await mounts('w', ['volatile'])) return { volatile: true };
        return (await mounts('w2', [])) ? { volatile: false } : undefined;
      } catch {
        return undefined;
      } finally {
        for (const work of ['w', 'w2']) await unlockWorkDir(join(dir, work));
        await rm(dir, { recursive: true, force: true }).catch(() => {});
      }
    })();
    probes.set(key, probe);
  }
  return probe;
}
