/**
 * Root filesystems for RUN steps, the way BuildKit's overlay snapshotter makes them:
 *
 * - every layer is extracted once, into `layers/<diffid-hex>/fs` (overlay format: whiteouts are char
 *   0:0 devices, opaque directories carry `trusted.overlay.opaque=y`), and shared by every chain;
 * - a step's rootfs is an overlay mount `lowerdir=top:…:bottom, upperdir=runs/<id>/fs`, so after the
 *   step the upper directory *is* the change set;
 * - committing a step registers its upper directory as the extracted form of the layer written from
 *   it (`layers/<diffid-hex>` → `../runs/<id>`), so the next RUN stacks on it without extracting.
 *
 * Not root: the overlays are mounted in a user namespace of wharf's own ({@link UserNamespace}, Linux
 * ≥ 5.11 with overlay's `userxattr`: opaque directories carry `user.overlay.opaque=y`), and the runtime
 * runs in that namespace.
 *
 * Without overlayfs (no GNU tar, no user namespaces, a filesystem overlay refuses as upper, or
 * `WHARF_SNAPSHOTTER=copy`) the snapshotter copies:
 * the chain is flattened once into `chains/<chainid-hex>/fs` (layers applied in order), copied with
 * `cp -a` for the step, and the change set comes from a stat-based comparison ({@link scanChanges}).
 * A committed copy becomes the flattened tree of the next chain.
 *
 * Layout under `root` (default `<store root>/snapshots`):
 * ```
 * layers/<hex>/fs   extracted layer (or a symlink to a committed run)   overlay mode
 * chains/<hex>/fs   flattened chain (or a symlink to a committed run)   copy mode; deep chains
 * runs/<pid>-<id>/  fs/ (upper or copy), work/, rootfs/ (mount point), scratch/ (etc files, copies)
 * tmp/<pid>-…       extractions in progress (renamed into place when complete)
 * ```
 */
import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import { chmod, lstat, mkdir, mkdtemp, rename, rm, rmdir, stat, symlink } from 'node:fs/promises';
import { join, posix, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { isRealDirectory } from '../fsutil/disk.js';
import { mapLimit } from '../fsutil/limit.js';
import { createDigester, type Digest, digestHex, sha256Digest } from '../oci/index.js';
import {
  type ChangeOptions,
  type ChangeSet,
  overlayChanges,
  rootlessOwnerMap,
  scanChanges,
} from './changes.js';
import { RuntimeError } from './errors.js';
import { execTool } from './exec.js';
import { type ExtractOptions, extractLayer } from './extract.js';
import {
  claimKind,
  discardIfCrashed,
  type Lease,
  markUsed,
  sweepStale,
  takeSnapshotLease,
} from './snapshot-gc.js';
import {
  assertOwnRoot,
  modeFromEnv,
  mountTool,
  opaqueXattr,
  overlayFeatures,
  overlaySupport,
  snapshotKind,
  unlockWorkDir,
} from './snapshot-mode.js';
import { markUnsynced, syncInBackground } from './snapshot-sync.js';
import { UserNamespace } from './userns.js';

/** What the snapshotter needs of a layer: `Layer` from `image/` fits. */
export interface SnapshotLayer {
  diffId(): Promise<Digest>;
  /** The layer tar, uncompressed; only read when the layer is not extracted yet. */
  uncompressed(): Promise<Readable>;
}

import type { SnapshotMode } from './snapshot-mode.js';

export type { SnapshotMode } from './snapshot-mode.js';

export interface SnapshotterOptions {
  /** The snapshot directory; see the module doc. Created if missing. */
  readonly root: string;
  /** `auto` uses overlayfs when it works here, else copies. Default: `WHARF_SNAPSHOTTER`, else `auto`. */
  readonly mode?: SnapshotMode | 'auto';
  /**
   * Most lower directories in one overlay mount (the kernel allows 500, one page of mount options
   * holds about 50 of ours). Deeper chains flatten their oldest layers into one directory. Default 40.
   */
  readonly maxLowerDirs?: number;
}

/**
 * Extracts a layer from `tar` (read to the end), kept only once `verified` resolves:
 * {@link Snapshotter.unpacker}.
 */
export type LayerUnpack = (tar: AsyncIterable<Uint8Array>, verified: Promise<void>) => Promise<void>;

export interface PrepareOptions {
  readonly signal?: AbortSignal;
}

/** The default root: inside the blob store's folder (`<store root>/snapshots`). */
export function defaultSnapshotRoot(storeRoot: string): string {
  // Inside the cache dir, so `--cache-dir` keeps everything a build writes in one place.
  return join(storeRoot, 'snapshots');
}

/** The OCI chain IDs of a list of diffIDs (`ChainID(L0) = DiffID(L0)`, then `sha256(parent + " " + diffID)`). */
export function chainIds(diffIds: readonly Digest[]): Digest[] {
  const out: Digest[] = [];
  for (const diffId of diffIds) {
    const parent = out[out.length - 1];
    out.push(parent === undefined ? diffId : sha256Digest(`${parent} ${diffId}`));
  }
  return out;
}

export class Snapshotter {
  readonly root: string;
  readonly mode: SnapshotMode;
  /** Not root, overlay mode: the namespace the overlays are mounted in (and the runtime runs in). */
  readonly userns: UserNamespace | undefined;
  /** The xattr overlay marks opaque directories with, in extracted layers and upper dirs. */
  readonly opaqueXattr: string;
  readonly #maxLower: number;
  readonly #lease: Lease;
  /** Step overlays are mounted `volatile` (see snapshot-mode.ts). */
  readonly #volatile: boolean;
  /** This process's `unsynced/` marker (snapshot-sync.ts). */
  readonly #marker: string;
  readonly #pending = new Map<string, Promise<string>>();
  /** The pending extractions that are one-pass unpacks ({@link unpacker}). */
  readonly #unpacks = new WeakSet<Promise<string>>();

  private constructor(
    root: string,
    mode: SnapshotMode,
    maxLower: number,
    lease: Lease,
    marks: { readonly volatile: boolean; readonly marker: string },
    userns?: UserNamespace,
  ) {
    this.root = root;
    this.#lease = lease;
    this.#volatile = marks.volatile;
    this.#marker = marks.marker;
    this.mode = mode;
    this.userns = userns;
    this.opaqueXattr = opaqueXattr();
    this.#maxLower = maxLower;
  }

  /** Opens (creates) a snapshot root and decides between overlay and copy mode. */
  static async open(options: SnapshotterOptions): Promise<Snapshotter> {
    // absolute: the bundle (in a tmpfs, see private-dir.ts) names the rootfs and mount sources by path
    const root = resolve(options.root);
    const wanted = options.mode ?? modeFromEnv();
    let lease: Lease;
    let marker = '';
    try {
      // Under the prune lock: a prune cannot remove the root between these mkdirs and the lease.
      lease = await takeSnapshotLease(root, async () => {
        await sweepStale(root); // what killed builds left: containers, mounts, runs, bundles, secrets
        await discardIfCrashed(root);
        await claimKind(root, snapshotKind());
        for (const sub of ['layers', 'chains', 'runs', 'tmp', 'empty']) {
          await mkdir(join(root, sub), { recursive: true, mode: 0o700 });
        }
        marker = await markUnsynced(root);
      });
    } catch (cause) {
      if (cause instanceof RuntimeError) throw cause;
      throw new RuntimeError('RUNTIME_SNAPSHOT_FAILED', `cannot create the snapshot directory ${root}`, {
        hint: 'point the cache directory somewhere writable (--cache-dir, or XDG_CACHE_HOME)',
        cause,
      });
    }
    try {
      await chmod(join(root, 'empty'), 0o755); // the root directory of a FROM scratch rootfs
      await assertOwnRoot(root);
    } catch (error) {
      await lease.release();
      throw error;
    }
    // Not root: overlays need a user namespace of our own to be mounted in.
    const userns =
      wanted !== 'copy' && process.platform === 'linux' && process.getuid?.() !== 0
        ? await UserNamespace.start(root)
        : undefined;
    const support = wanted === 'copy' ? undefined : await overlaySupport(root, userns);
    const mode = wanted === 'auto' ? (support ? 'overlay' : 'copy') : wanted;
    if (mode === 'copy') userns?.close();
    const maxLower = Math.max(2, options.maxLowerDirs ?? 40);
    const marks = { volatile: mode === 'overlay' && support?.volatile === true, marker };
    return new Snapshotter(root, mode, maxLower, lease, marks, mode === 'overlay' ? userns : undefined);
  }

  /**
   * Ends the user namespace, if any, and the lease that keeps `wharf cache prune` away (snapshots
   * must be released or committed first).
   */
  async close(): Promise<void> {
    this.userns?.close();
    syncInBackground(this.root, this.#marker);
    await this.#lease.release();
  }

  /** A fresh, writable root filesystem holding `layers` (bottom first). */
  async prepare(layers: readonly SnapshotLayer[], options: PrepareOptions = {}): Promise<Snapshot> {
    const diffIds = await Promise.all(layers.map((l) => l.diffId()));
    // `<pid>-…`: the sweep (snapshot-gc.ts) removes the runs of builds that were killed
    const id = `${process.pid}-${randomBytes(8).toString('hex')}`;
    const runDir = join(this.root, 'runs', id);
    await mkdir(join(runDir, 'scratch'), { recursive: true, mode: 0o700 });
    try {
      if (this.mode === 'overlay') {
        const lowers = await this.#lowerDirs(layers, diffIds, options.signal);
        for (const sub of ['fs', 'work', 'rootfs']) await mkdir(join(runDir, sub), { mode: 0o755 });
        const mountOptions = [
          `lowerdir=${lowers.join(':')}`,
          `upperdir=runs/${id}/fs`,
          `workdir=runs/${id}/work`,
          ...overlayFeatures(),
          ...(this.#volatile ? ['volatile'] : []),
        ].join(',');
        // Relative paths (resolved from cwd by the kernel) keep the options within one page.
        const result = await this.exec('mount', [
          '-t',
          'overlay',
          'overlay',
          '-o',
          mountOptions,
          `runs/${id}/rootfs`,
        ]);
        if (result.code !== 0) {
          throw new RuntimeError(
            'RUNTIME_SNAPSHOT_FAILED',
            `cannot mount the root filesystem: ${result.stderr}`,
            {
              hint: 'overlayfs is needed for fast RUN steps; WHARF_SNAPSHOTTER=copy avoids it',
            },
          );
        }
        return new Snapshot(this, id, runDir, 'overlay', diffIds, { lowerDirs: lowers });
      }
      const chain =
        diffIds.length === 0
          ? join(this.root, 'empty')
          : join(await this.#chainDir(layers, diffIds, diffIds.length, options.signal), 'fs');
      // Hard links are not kept in the step's copy: overlayfs (index=off, as BuildKit's snapshotter
      // mounts it) copies a linked lower file up on its first write and the other names keep the old
      // inode, so writing through one name changes that name only.
      const copy = await execTool('cp', [
        '-a',
        '--no-preserve=links',
        '--reflink=auto',
        chain,
        join(runDir, 'fs'),
      ]);
      if (copy.code !== 0) {
        throw new RuntimeError('RUNTIME_SNAPSHOT_FAILED', `cannot copy the root filesystem: ${copy.stderr}`);
      }
      return new Snapshot(this, id, runDir, 'copy', diffIds, { lower: chain });
    } catch (error) {
      await rm(runDir, { recursive: true, force: true }).catch(() => {});
      throw error;
    }
  }

  /** Lower directories for an overlay mount, top first, relative to the root. */
  async #lowerDirs(
    layers: readonly SnapshotLayer[],
    diffIds: readonly Digest[],
    signal?: AbortSignal,
  ): Promise<string[]> {
    if (layers.length === 0) return ['empty'];
    let flatten = 0;
    if (layers.length > this.#maxLower) flatten = layers.length - this.#maxLower + 1;
    const dirs: string[] = [];
    // Extract up to 4 layers at a time; each is independent.
    const extracting = mapLimit(layers.slice(flatten), 4, async (layer, i) => {
      signal?.throwIfAborted();
      return this.#layerDir(layer, diffIds[flatten + i] as Digest);
    });
    const flat = flatten > 0 ? this.#chainDir(layers, diffIds, flatten, signal) : undefined;
    await Promise.all([extracting, flat]);
    for (let i = layers.length - 1; i >= flatten; i--)
      dirs.push(`layers/${digestHex(diffIds[i] as Digest)}/fs`);
    if (flat) dirs.push(`chains/${digestHex(chainIds(diffIds.slice(0, flatten)).at(-1) as Digest)}/fs`);
    return dirs;
  }

  /** `layers/<hex>`, extracting the layer (overlay format) if it is not there yet. */
  #layerDir(layer: SnapshotLayer, diffId: Digest): Promise<string> {
    const hex = digestHex(diffId);
    const key = `layer:${hex}`;
    let pending = this.#pending.get(key);
    // an unpack that fails (a bad tar, a full disk) is retried here, where its error is reported
    if (pending && this.#unpacks.has(pending)) return pending.catch(() => this.#layerDir(layer, diffId));
    if (!pending) {
      pending = this.#materialise(join(this.root, 'layers', hex), async (fs) => {
        await extractVerified(layer, diffId, fs, { format: 'overlay', opaqueXattr: this.opaqueXattr });
      });
      this.#pending.set(key, pending);
      pending.finally(() => this.#pending.delete(key)).catch(() => {});
    }
    return pending;
  }

  /**
   * One-pass base preparation: when layer `diffId` is neither extracted nor being extracted (overlay
   * mode), takes the job of extracting it from a tar another reader streams anyway (the engine reads a
   * pulled base layer once for its view, engine/layer-views.ts), so the first RUN does not gunzip and
   * extract it again. Undefined otherwise (copy mode flattens whole chains; the RUN extracts then).
   * Nothing is kept unless `verified` resolves: the reader hashes the tar and rejects it when it is
   * not `diffId`. A failed unpack leaves nothing behind, and the next {@link prepare} extracts the
   * layer itself (and reports what is wrong with it).
   *
   * @example
   * const unpack = snapshotter.unpacker(diffId);
   * if (unpack) await unpack(tarChunks, hashChecked); // tarChunks: read to the end; hashChecked: Promise<void>
   */
  unpacker(diffId: Digest): LayerUnpack | undefined {
    if (this.mode !== 'overlay') return undefined;
    const hex = digestHex(diffId);
    const key = `layer:${hex}`;
    if (this.#pending.has(key)) return undefined;
    return async (tar, verified) => {
      verified.catch(() => {}); // awaited after the extraction; a failed check stops nothing before that
      const iterator = tar[Symbol.asyncIterator]();
      const chunks = { [Symbol.asyncIterator]: () => iterator };
      try {
        if (this.#pending.has(key)) return; // another reader took it meanwhile
        const pending = this.#materialise(join(this.root, 'layers', hex), async (fs) => {
          await extractLayer(chunks, fs, {
            format: 'overlay',
            opaqueXattr: this.opaqueXattr,
            label: `layer ${diffId}`,
          });
          for await (const _ of chunks); // the hash covers the whole input, padding included
          await verified;
        });
        this.#pending.set(key, pending);
        this.#unpacks.add(pending);
        // a failed unpack is forgotten: prepare() extracts the layer the usual way (and reports why)
        pending.finally(() => this.#pending.delete(key)).catch(() => {});
        await pending;
      } finally {
        await iterator.return?.(); // stop pulling (done, failed, or not needed): the other reader goes on
      }
    };
  }

  /** `chains/<hex>` for the first `count` layers, flattened (apply format). */
  #chainDir(
    layers: readonly SnapshotLayer[],
    diffIds: readonly Digest[],
    count: number,
    signal?: AbortSignal,
  ): Promise<string> {
    const chain = chainIds(diffIds.slice(0, count));
    const hex = digestHex(chain[count - 1] as Digest);
    const key = `chain:${hex}`;
    let pending = this.#pending.get(key);
    if (!pending) {
      pending = this.#materialise(join(this.root, 'chains', hex), async (fs) => {
        // Start from the longest flattened prefix there is, then apply the rest.
        let start = 0;
        for (let k = count - 1; k >= 1; k--) {
          const prefix = join(this.root, 'chains', digestHex(chain[k - 1] as Digest));
          if (await exists(join(prefix, 'fs'))) {
            const copy = await execTool('cp', ['-a', '--reflink=auto', `${join(prefix, 'fs')}/.`, fs]);
            if (copy.code !== 0) throw new Error(`cp: ${copy.stderr}`);
            start = k;
            break;
          }
        }
        for (let i = start; i < count; i++) {
          signal?.throwIfAborted();
          await extractVerified(layers[i] as SnapshotLayer, diffIds[i] as Digest, fs, { format: 'apply' });
        }
      });
      this.#pending.set(key, pending);
      pending.finally(() => this.#pending.delete(key)).catch(() => {});
    }
    return pending;
  }

  /** Builds `target/fs` in a temp dir and renames it into place; a concurrent builder's result wins. */
  async #materialise(target: string, build: (fs: string) => Promise<void>): Promise<string> {
    if (await exists(join(target, 'fs'))) {
      await markUsed(target); // least recently used goes first in `wharf cache prune --keep-storage`
      return target;
    }
    const tmp = await mkdtemp(join(this.root, 'tmp', `${process.pid}-x-`));
    try {
      await mkdir(join(tmp, 'fs'), { mode: 0o755 });
      await build(join(tmp, 'fs'));
      try {
        await rename(tmp, target);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
        await rm(tmp, { recursive: true, force: true });
      }
      return target;
    } catch (error) {
      await rm(tmp, { recursive: true, force: true }).catch(() => {});
      if (error instanceof RuntimeError) throw error;
      throw new RuntimeError(
        'RUNTIME_SNAPSHOT_FAILED',
        `cannot extract a layer into ${target}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  }

  /** Runs a mount tool (`mount`, `umount`) in the snapshot root, in the user namespace if there is one. */
  exec(tool: string, args: readonly string[]) {
    return mountTool(this.userns, this.root, tool, args);
  }

  /** Registers a committed run's `fs` under `layers/<hex>` or `chains/<hex>`. Internal to {@link Snapshot}. */
  async register(kind: 'layers' | 'chains', digest: Digest, runId: string): Promise<void> {
    const target = join(this.root, kind, digestHex(digest));
    if (await exists(join(target, 'fs'))) return;
    const tmp = join(this.root, 'tmp', `${runId}.link`);
    await rm(tmp, { force: true });
    await symlink(`../runs/${runId}`, tmp);
    try {
      await rename(tmp, target); // atomic; over an existing directory it fails and the existing one stays
    } catch {
      await rm(tmp, { force: true });
    }
  }
}

export interface DiffOptions extends ChangeOptions {
  /** Mount stubs to delete before the diff (`mountStubs`: file stubs, points below another mount), deepest first. */
  readonly remove?: readonly string[];
  /** When the step started; default: when the snapshot was prepared. */
  readonly since?: number;
}

/** One prepared root filesystem. Use it once: run in {@link rootfs}, then {@link diff}, then commit or release. */
export class Snapshot {
  readonly id: string;
  readonly mode: SnapshotMode;
  /** The root filesystem, as wharf reads and writes it (through `/proc/<pid>/root` in a user namespace). */
  readonly rootfs: string;
  /** The root filesystem as the runtime sees it (its path inside the namespace it runs in). */
  readonly runtimeRootfs: string;
  /**
   * The argv prefix to start the runtime with: empty, or `nsenter …` into the user namespace the rootfs
   * is mounted in (the runtime then runs as that namespace's root: no user namespace of its own).
   */
  readonly runtimePrefix: readonly string[];
  /** A private scratch directory for this run (bundle, generated files); removed with the snapshot. */
  readonly scratch: string;
  readonly #snapshotter: Snapshotter;
  readonly #runDir: string;
  readonly #diffIds: readonly Digest[];
  readonly #lower: string | undefined;
  readonly #lowerDirs: readonly string[];
  readonly #prepared = Date.now();
  #mounted: boolean;
  #committed = false;
  #released = false;

  constructor(
    snapshotter: Snapshotter,
    id: string,
    runDir: string,
    mode: SnapshotMode,
    diffIds: readonly Digest[],
    below: { readonly lower?: string; readonly lowerDirs?: readonly string[] },
  ) {
    this.#snapshotter = snapshotter;
    this.id = id;
    this.#runDir = runDir;
    this.mode = mode;
    this.runtimeRootfs = join(runDir, mode === 'overlay' ? 'rootfs' : 'fs');
    const userns = snapshotter.userns;
    this.rootfs = userns ? userns.hostPath(this.runtimeRootfs) : this.runtimeRootfs;
    this.runtimePrefix = userns ? userns.enter() : [];
    this.scratch = join(runDir, 'scratch');
    this.#diffIds = diffIds;
    this.#lower = below.lower;
    this.#lowerDirs = (below.lowerDirs ?? []).map((d) => join(snapshotter.root, d));
    this.#mounted = mode === 'overlay';
  }

  /** The directory whose contents become the snapshot (the overlay upper dir, or the copy). */
  get changesDir(): string {
    return join(this.#runDir, 'fs');
  }

  /**
   * What the step changed. Unmounts the overlay first (the rootfs is unusable afterwards), deletes
   * the stubs in `remove` (a directory only if the step left it empty). Nothing else is left out: the
   * change set describes exactly the tree this snapshot keeps.
   */
  async diff(options: DiffOptions = {}): Promise<ChangeSet> {
    await this.#unmount();
    const dir = this.changesDir;
    for (const stub of [...(options.remove ?? [])].sort((a, b) => b.length - a.length)) {
      // the step may have swapped a parent for a symlink (to a host directory): never delete through one
      if (!isRealDirectory(dir, posix.dirname(stub).replace(/^\.$/, ''))) continue;
      const abs = join(dir, stub);
      const st = await lstat(abs).catch(() => undefined);
      if (!st) continue;
      // a stub directory goes only if the step left it empty (rmdir fails otherwise)
      if (st.isDirectory()) await rmdir(abs).catch(() => {});
      else await rm(abs, { force: true });
    }
    const uid = process.getuid?.() ?? 0;
    const mapOwner = uid === 0 ? undefined : rootlessOwnerMap(uid, process.getgid?.() ?? 0);
    const common = { ...options, ...(mapOwner ? { mapOwner } : {}) };
    if (this.mode === 'overlay') {
      const opaqueXattr = this.#snapshotter.opaqueXattr;
      return overlayChanges(dir, { ...common, opaqueXattr, lowerStat: (p) => this.#lowerStat(p) });
    }
    return scanChanges(this.#lower as string, dir, { ...common, since: options.since ?? this.#prepared });
  }

  /**
   * Keeps this snapshot as the extracted form of the layer written from its change set (`diffId`), so
   * the next step's chain (this chain + that layer) starts from it. Paths in the change set's entries
   * stay valid. Releasing afterwards only drops the scratch files.
   */
  async commit(diffId: Digest): Promise<void> {
    if (this.#released) throw new Error('Snapshot.commit() after release()');
    await this.#unmount();
    this.#committed = true;
    await this.#removeWorkDir();
    await rm(join(this.#runDir, 'rootfs'), { recursive: true, force: true });
    await rm(this.scratch, { recursive: true, force: true });
    if (this.mode === 'overlay') await this.#snapshotter.register('layers', diffId, this.id);
    else
      await this.#snapshotter.register(
        'chains',
        chainIds([...this.#diffIds, diffId]).at(-1) as Digest,
        this.id,
      );
  }

  /** Unmounts and deletes the snapshot unless it was committed. Safe to call more than once. */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    await this.#unmount();
    if (this.#committed) return;
    await this.#removeWorkDir();
    await rm(this.#runDir, { recursive: true, force: true });
  }

  /** Overlay's work dirs have mode 0: only root could remove them as they are. */
  async #removeWorkDir(): Promise<void> {
    const work = join(this.#runDir, 'work');
    await unlockWorkDir(work);
    await rm(work, { recursive: true, force: true });
  }

  /** lstat in the layers below, top first: the first layer that has the path (or whites it out) decides. */
  async #lowerStat(path: string): Promise<Stats | undefined> {
    for (const dir of this.#lowerDirs) {
      const st = await lstat(join(dir, path)).catch(() => undefined);
      if (st) return st.isCharacterDevice() && st.rdev === 0 ? undefined : st;
    }
    return undefined;
  }

  async #unmount(): Promise<void> {
    if (!this.#mounted) return;
    const target = join(this.#runDir, 'rootfs');
    const result = await this.#snapshotter.exec('umount', [target]);
    if (result.code !== 0) {
      const lazy = await this.#snapshotter.exec('umount', ['-l', target]);
      if (lazy.code !== 0 && !/not mounted/.test(lazy.stderr)) {
        throw new RuntimeError('RUNTIME_SNAPSHOT_FAILED', `cannot unmount ${target}: ${result.stderr}`);
      }
    }
    this.#mounted = false;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Extracts and checks that the tar really has `diffId` (a mismatch fails, nothing is kept). */
async function extractVerified(
  layer: SnapshotLayer,
  diffId: Digest,
  dir: string,
  options: Omit<ExtractOptions, 'label'>,
) {
  const digester = createDigester('sha256');
  const tar = await layer.uncompressed();
  async function* tapped() {
    for await (const chunk of tar) {
      digester.update(chunk as Buffer);
      yield chunk as Buffer;
    }
  }
  await extractLayer(tapped(), dir, { ...options, label: `layer ${diffId}` });
  const got = digester.digest();
  if (got !== diffId) {
    throw new RuntimeError('RUNTIME_BAD_LAYER', `layer ${diffId}: its tar hashes to ${got}`, {
      hint: 'the cached blob is corrupt or its diffID is wrong: remove it from the store and pull again',
    });
  }
}
