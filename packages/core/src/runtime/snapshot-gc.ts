/**
 * Garbage collection of a snapshot root (see snapshotter.ts for its layout). Everything in it can be
 * made again from the blob store, so pruning only costs the next build some extraction time.
 *
 * Builds and pruning must not meet: a build deleting under a mounted overlay breaks it. Each open
 * {@link Snapshotter} holds a lease (`leases/<pid>-<random>`, gone on `close()`, stale once its
 * process is dead); taking a lease and pruning both hold the lock `<root>.lock`, so a prune that found
 * no live lease cannot be overtaken by a build starting in between. With a live lease, nothing is
 * pruned and the pids are reported.
 *
 * ```ts
 * const usage = await snapshotUsage(root); // { layers: 12, bytes: 1_200_000_000 }
 * const result = await pruneSnapshots(root, { keepBytes: 500e6 }); // least recently used go first
 * if (result.inUse.length) console.log(`in use by pid ${result.inUse.join(', ')}`);
 * ```
 */
import { randomBytes } from 'node:crypto';
import { lstatSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { chmod, lutimes, mkdir, readFile, realpath, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { type Lease, leftByDeadProcess, liveLeases, takeLease } from '../store/lease.js';
import { findRuntime } from './detect.js';
import { RuntimeError } from './errors.js';
import { execTool } from './exec.js';
import { acquireLock } from './lock.js';
import { sweepPrivateDirs } from './private-dir.js';
import { defaultStateRoot } from './run.js';
import { fromEarlierBoot } from './snapshot-sync.js';

export type { Lease } from '../store/lease.js';

/** The lock beside the root (not in it: a full prune renames the root away). */
function lockPath(root: string): string {
  return join(dirname(root), `.${basename(root)}.lock`);
}

/** Registers a user of `root`; `prepare` runs under the lock, before the lease exists (e.g. mkdirs). */
export async function takeSnapshotLease(root: string, prepare: () => Promise<void>): Promise<Lease> {
  return takeLease(join(root, 'leases'), lockPath(root), { prepare });
}

/** Pids holding a lease on `root` (this process's own included); leases of dead processes are removed. */
function liveSnapshotLeases(root: string): Promise<number[]> {
  return liveLeases(join(root, 'leases'));
}

/**
 * Makes sure `root` holds snapshots of `kind` (how owners and overlay xattrs were written): snapshots of
 * another kind (the cache was used as root, rootless, or rootless with subordinate ids) would give
 * wrong trees, so they are moved away and deleted. Call under the lock (in {@link takeSnapshotLease}'s
 * `prepare`); fails while a build of the other kind holds a lease.
 */
export async function claimKind(root: string, kind: string): Promise<void> {
  const file = join(root, 'kind');
  const found = (await readFile(file, 'utf8').catch(() => '')).trim();
  if (found === kind) return;
  const layers = namesIn(join(root, 'layers')).length + namesIn(join(root, 'chains')).length;
  if (found !== '' || layers > 0) {
    const inUse = await liveSnapshotLeases(root);
    if (inUse.length > 0) {
      throw new RuntimeError(
        'RUNTIME_SNAPSHOT_FAILED',
        `${root} holds snapshots of another kind (${found || 'older'}), in use by pid ${inUse.join(', ')}`,
        { hint: 'wait for that build, or give this one a cache directory of its own (--cache-dir)' },
      );
    }
    if (found !== '') await emptyRoot(root);
  }
  await mkdir(root, { recursive: true, mode: 0o700 });
  await writeFile(file, `${kind}\n`);
}

/**
 * Empties `root` when a crash may have left its snapshots half written (snapshot-sync.ts): the next
 * builds extract again from the store. Call under the lock, before {@link claimKind}; a root in use by
 * a live build of this boot is left as it is.
 */
export async function discardIfCrashed(root: string): Promise<boolean> {
  if (!(await fromEarlierBoot(root))) return false;
  if ((await liveSnapshotLeases(root)).length > 0) return false;
  await emptyRoot(root);
  return true;
}

/** Where a root goes to be deleted: `<root>.gc-<random>` (a full prune removes what is left there). */
const GC_INFIX = '.gc-';

/** Renames `root` aside (the next user starts from an empty one at once); returns where it went. */
async function moveAside(root: string): Promise<string> {
  const doomed = `${root}${GC_INFIX}${randomBytes(4).toString('hex')}`;
  await rename(root, doomed);
  return doomed;
}

/** Moves `root` aside and deletes it as far as this process can. */
async function emptyRoot(root: string): Promise<void> {
  const doomed = await moveAside(root);
  // Files that subordinate ids own cannot be removed from outside their namespace: a later
  // `wharf cache prune` (which runs in it) removes what is left.
  await removeTree(doomed).catch(() => {});
}

/** Records that a layer or chain entry (`<root>/layers/<hex>`, a directory or a link) was used now. */
export async function markUsed(entry: string): Promise<void> {
  const now = new Date();
  await lutimes(entry, now, now).catch(() => {});
}

export interface SnapshotUsage {
  /** Extracted layers and flattened chains. */
  readonly layers: number;
  /** Bytes on disk (allocated blocks) under the root. */
  readonly bytes: number;
}

/** Bytes on disk below `path` (symlinks not followed; hard links counted once). */
export function diskBytes(path: string, seen = new Set<string>()): number {
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(path);
  } catch {
    return 0;
  }
  const id = `${st.dev}:${st.ino}`;
  if (seen.has(id)) return 0;
  seen.add(id);
  let bytes = st.blocks * 512;
  if (st.isDirectory()) {
    // an unreadable directory (overlay's mode-0 work dir, not root) counts as empty
    for (const name of namesIn(path)) bytes += diskBytes(join(path, name), seen);
  }
  return bytes;
}

/** The names in `dir`; none when it does not exist. */
function namesIn(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** How many layers and chains `root` holds and the bytes it takes. */
export async function snapshotUsage(root: string): Promise<SnapshotUsage> {
  const layers = namesIn(join(root, 'layers')).length + namesIn(join(root, 'chains')).length;
  return { layers, bytes: diskBytes(root) };
}

export interface PruneSnapshotsOptions {
  /** Keep the most recently used layers and chains up to this many bytes. Default 0: remove all. */
  readonly keepBytes?: number;
  /** Removing all: more directories builds use (cache mounts), removed under the same lock. */
  readonly also?: readonly string[];
}

export interface PruneSnapshotsResult {
  /** Bytes freed in the root. */
  readonly bytes: number;
  /** Bytes freed in the `also` directories. */
  readonly alsoBytes: number;
  /** Layers and chains removed. */
  readonly layers: number;
  /** Pids of running builds using the root: when not empty, nothing was removed. */
  readonly inUse: readonly number[];
}

/** Removes snapshots not in use: everything, or the least recently used beyond `keepBytes`. */
export async function pruneSnapshots(
  root: string,
  options: PruneSnapshotsOptions = {},
): Promise<PruneSnapshotsResult> {
  const none = { bytes: 0, alsoBytes: 0, layers: 0 };
  if (!statSync(root, { throwIfNoEntry: false })) return { ...none, inUse: [] };
  const lock = await acquireLock(lockPath(root));
  try {
    await sweepStale(root);
    const inUse = await liveSnapshotLeases(root);
    if (inUse.length > 0) return { ...none, inUse };
    // what an interrupted full prune (or an emptied root) left
    for (const name of namesIn(dirname(root))) {
      if (name.startsWith(`${basename(root)}${GC_INFIX}`))
        await removeTree(join(dirname(root), name)).catch(() => {});
    }
    await unmountBelow(root); // overlays a killed build left mounted
    const keep = options.keepBytes ?? 0;
    if (keep <= 0) {
      const { layers, bytes } = await snapshotUsage(root);
      await removeTree(await moveAside(root));
      let alsoBytes = 0;
      for (const dir of options.also ?? []) {
        alsoBytes += diskBytes(dir);
        await removeTree(dir);
      }
      return { bytes, alsoBytes, layers, inUse };
    }
    return { ...(await pruneLeastRecentlyUsed(root, keep)), alsoBytes: 0, inUse };
  } finally {
    await lock?.release();
  }
}

interface Candidate {
  readonly entry: string;
  /** The committed run it points at, if it is a link. */
  readonly run: string | undefined;
  readonly usedMs: number;
  readonly bytes: number;
}

async function pruneLeastRecentlyUsed(
  root: string,
  keepBytes: number,
): Promise<{ bytes: number; layers: number }> {
  const candidates: Candidate[] = [];
  const linked = new Set<string>();
  for (const kind of ['layers', 'chains']) {
    for (const name of namesIn(join(root, kind))) {
      const entry = join(root, kind, name);
      const st = lstatSync(entry);
      const run = st.isSymbolicLink() ? join(root, kind, readlinkSync(entry)) : undefined;
      if (run) linked.add(basename(run));
      candidates.push({ entry, run, usedMs: st.mtimeMs, bytes: diskBytes(run ?? entry) });
    }
  }
  candidates.sort((a, b) => b.usedMs - a.usedMs); // newest first
  let kept = 0;
  let bytes = 0;
  let layers = 0;
  for (const candidate of candidates) {
    if (kept + candidate.bytes <= keepBytes) {
      kept += candidate.bytes;
      continue;
    }
    await rm(candidate.entry, { force: true, recursive: !candidate.run });
    if (candidate.run) await removeTree(candidate.run);
    bytes += candidate.bytes;
    layers += 1;
  }
  // Runs no entry points at were left by killed builds (nothing is running: no live lease).
  for (const name of namesIn(join(root, 'runs'))) {
    if (linked.has(name)) continue;
    bytes += diskBytes(join(root, 'runs', name));
    await removeTree(join(root, 'runs', name));
  }
  for (const name of namesIn(join(root, 'tmp'))) await removeTree(join(root, 'tmp', name));
  return { bytes, layers };
}

/** rm -rf that also gets through overlay's mode-0 `work/work` directories when not root. */
async function removeTree(path: string): Promise<void> {
  try {
    await rm(path, { recursive: true, force: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EACCES') throw error;
    await execTool('chmod', ['-R', 'u+rwx', path]);
    await chmod(path, 0o700).catch(() => {});
    await rm(path, { recursive: true, force: true });
  }
}

/** Unmounts (lazily) what is mounted below `root` in this mount namespace: root only. */
async function unmountBelow(root: string): Promise<void> {
  if (process.getuid?.() !== 0) return; // a rootless build's mounts lived in its own namespace
  const real = await realpath(root).catch(() => root); // mountinfo has canonical paths
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  const points = mountinfo
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .map((point) =>
      point.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8))),
    )
    .filter((point) => point.startsWith(`${real}/`))
    .sort((a, b) => b.length - a.length);
  for (const point of points) await execTool('umount', ['-l', point]);
}

/**
 * Removes what builds that were killed (SIGKILL, a crash) left behind; their pid is in every name:
 * runtime containers `wharf-<pid>-…` (killed and deleted), the runs `runs/<pid>-…` of their snapshots
 * (unmounted and deleted, unless committed as a layer), extractions `tmp/<pid>-…`, their private tmpfs
 * directories (bundles, secrets) and their leases. Nothing of a live process is touched. Runs when a
 * build opens the snapshots and in `wharf cache prune`.
 */
export async function sweepStale(root: string): Promise<void> {
  await sweepContainers();
  const linked = linkedRuns(root);
  for (const name of namesIn(join(root, 'runs'))) {
    if (!leftByDeadProcess(name) || linked.has(name)) continue;
    await unmountBelow(join(root, 'runs', name));
    await removeTree(join(root, 'runs', name)).catch(() => {});
  }
  for (const name of namesIn(join(root, 'tmp'))) {
    if (leftByDeadProcess(name)) await removeTree(join(root, 'tmp', name)).catch(() => {});
  }
  await sweepPrivateDirs();
  await liveSnapshotLeases(root); // drops the leases of dead processes
}

/** Deletes (`delete -f` kills first) the containers of wharf processes that are gone. */
async function sweepContainers(): Promise<void> {
  const stateRoot = defaultStateRoot();
  const stale = namesIn(stateRoot).filter((n) => n.startsWith('wharf-') && leftByDeadProcess(n.slice(6)));
  if (stale.length === 0) return;
  const runtime = await findRuntime().catch(() => undefined);
  if (!runtime) return;
  for (const id of stale) await execTool(runtime.path, ['--root', stateRoot, 'delete', '-f', id]);
}

/** Runs that a `layers/` or `chains/` entry points at: committed, kept whoever made them. */
function linkedRuns(root: string): Set<string> {
  const linked = new Set<string>();
  for (const kind of ['layers', 'chains']) {
    for (const name of namesIn(join(root, kind))) {
      try {
        linked.add(basename(readlinkSync(join(root, kind, name))));
      } catch {
        // a directory: an extracted layer
      }
    }
  }
  return linked;
}
