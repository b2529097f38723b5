/**
 * Cache mounts that travel with the remote cache (`--cache-to …,mounts=true`): a mount's content is
 * packed as a tar layer after the build, and restored from an imported cache before the first RUN
 * that uses the mount id must run on a machine that has no such mount yet.
 *
 * Packing is deterministic (entries by name, every mtime 0, owners as on disk when root), so an
 * unchanged mount packs to the same digest and a later export uploads nothing for it. Past the
 * per-id limit the least recently used files (by access time, else modification time) stay behind.
 * Restoring extracts into a temp directory beside the mount and renames it onto `data`, so concurrent
 * builds (any `sharing`) see no mount or a whole one; a mount that exists locally is never replaced.
 *
 * @example
 * await restoreCacheMounts(resolved.mounts, '/app', { cache, store, cacheRoot });
 * const packed = await packCacheMount(store, cacheRoot, 'npm', 1 << 30);
 */
import { createReadStream, lstatSync, readdirSync, readlinkSync } from 'node:fs';
import {
  chmod,
  chown,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import type { CachedLayer, StepCache } from '../cache/step-cache.js';
import type { LayerEntry } from '../layer/entry.js';
import { compareNames, sortNames } from '../layer/fs-view.js';
import { writeLayer } from '../layer/layer-writer.js';
import { extractLayer } from '../runtime/extract.js';
import { cacheMountBase, cacheMountId, type ResolvedMount } from '../runtime/mounts.js';
import { diskBytes } from '../runtime/snapshot-gc.js';
import type { BlobStore } from '../store/store.js';

/** A packed cache mount. */
export interface PackedMount {
  readonly layer: CachedLayer;
  /** Files left out to stay within the limit (least recently used first). */
  readonly dropped: number;
}

interface Found {
  readonly rel: string;
  readonly entry: LayerEntry;
  /** For files: size and last use (ms), for the limit. */
  readonly size?: number;
  readonly used?: number;
}

/**
 * Packs cache mount `id` (under `cacheRoot`) into a tar layer in `store`, keeping at most `limit` bytes
 * of file content; undefined when this machine has no such mount.
 */
export async function packCacheMount(
  store: BlobStore,
  cacheRoot: string,
  id: string,
  limit: number,
): Promise<PackedMount | undefined> {
  const data = join(cacheMountBase(cacheRoot, id), 'data');
  if (!(await stat(data).catch(() => undefined))?.isDirectory()) return undefined;
  const found: Found[] = [];
  walk(data, '', found);
  // Most recently used first, then by name: the files that fit the limit stay.
  const files = found
    .filter((f) => f.entry.type === 'file')
    .sort((a, b) => (b.used ?? 0) - (a.used ?? 0) || compareNames(a.rel, b.rel));
  const kept = new Set<string>();
  let total = 0;
  for (const file of files) {
    if (total + (file.size ?? 0) > limit) continue;
    total += file.size ?? 0;
    kept.add(file.rel);
  }
  const entries = found.filter((f) => f.entry.type !== 'file' || kept.has(f.rel)).map((f) => f.entry);
  const info = await writeLayer(store, entries, { compression: 'none', mtime: 0 });
  return {
    layer: {
      digest: info.digest,
      diffId: info.diffId,
      size: info.size,
      mediaType: info.mediaType,
      uncompressedSize: info.uncompressedSize,
    },
    dropped: files.length - kept.size,
  };
}

/** Depth first, names sorted, parents before children; sockets, FIFOs and devices are left out. */
function walk(root: string, rel: string, out: Found[]): void {
  const asRoot = process.getuid?.() === 0;
  for (const name of sortNames(readdirSync(rel === '' ? root : join(root, rel)))) {
    const path = rel === '' ? name : `${rel}/${name}`;
    const abs = join(root, path);
    const st = lstatSync(abs);
    const base = {
      path,
      mode: st.mode & 0o7777,
      uid: asRoot ? st.uid : 0,
      gid: asRoot ? st.gid : 0,
    };
    if (st.isDirectory()) {
      out.push({ rel: path, entry: { ...base, type: 'dir' } });
      walk(root, path, out);
    } else if (st.isSymbolicLink()) {
      out.push({ rel: path, entry: { ...base, type: 'symlink', linkTarget: readlinkSync(abs) } });
    } else if (st.isFile()) {
      out.push({
        rel: path,
        // read for the export without moving the access time the size cap ranks files by
        entry: { ...base, type: 'file', size: st.size, content: { kind: 'path', path: abs, noAtime: true } },
        size: st.size,
        used: Math.max(st.atimeMs, st.mtimeMs),
      });
    }
  }
}

/** What restoring needs: the step cache (its imported sources), the store, and where mounts live. */
export interface RestoreContext {
  readonly cache: StepCache;
  readonly store: BlobStore;
  readonly cacheRoot: string;
}

/** Restores in flight, by mount directory: each once per process. */
const restoring = new Map<string, Promise<void>>();

/**
 * Before a RUN runs: each of its cache mounts that this machine lacks is filled from an imported
 * cache that exported it (`mounts=true`), if any. Never fails the step: a mount that cannot be
 * restored starts empty, as it would without the cache.
 */
export async function restoreCacheMounts(
  mounts: readonly ResolvedMount[],
  cwd: string,
  ctx: RestoreContext,
  onWarning: (message: string) => void,
): Promise<void> {
  for (const mount of mounts) {
    if (mount.type !== 'cache') continue;
    const id = cacheMountId(mount, cwd);
    const base = cacheMountBase(ctx.cacheRoot, id);
    let pending = restoring.get(base);
    if (!pending) {
      pending = restoreOne(id, base, mount, ctx).catch((error: unknown) =>
        onWarning(
          `cache mount "${id}" could not be restored from the imported cache (${(error as Error).message}); it starts empty`,
        ),
      );
      restoring.set(base, pending);
      void pending.finally(() => restoring.delete(base));
    }
    await pending;
  }
}

async function restoreOne(
  id: string,
  base: string,
  mount: Extract<ResolvedMount, { type: 'cache' }>,
  ctx: RestoreContext,
): Promise<void> {
  const data = join(base, 'data');
  if (await stat(data).catch(() => undefined)) return; // this machine's own content wins
  const layer = await ctx.cache.importedMount(id, ctx.store);
  if (!layer) return;
  await mkdir(base, { recursive: true, mode: 0o700 });
  const temp = await mkdtemp(join(base, 'restore-'));
  try {
    await extractLayer(createReadStream(ctx.store.path(layer.digest)), temp, {
      format: 'apply',
      label: `cache mount ${id} (${layer.digest})`,
    });
    await chmod(temp, mount.mode ?? 0o755);
    if (process.getuid?.() === 0 && (mount.uid !== undefined || mount.gid !== undefined))
      await chown(temp, mount.uid ?? 0, mount.gid ?? 0);
    await writeFile(join(base, 'id'), id);
    await rename(temp, data);
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    // another build restored or created it meanwhile: theirs stays
    if (await stat(data).catch(() => undefined)) return;
    throw error;
  }
}

/** One cache mount on this machine, for `wharf cache ls` and pruning. */
export interface CacheMountEntry {
  /** Its id (what `id=` or the target said); undefined for a directory an older wharf left without one. */
  readonly id: string | undefined;
  /** Bytes on disk. */
  readonly bytes: number;
  /** When it was last used (ms since the epoch): the newest access or change of the mount or its top entries. */
  readonly lastUsedMs: number;
  /** Its directory (`<cacheRoot>/<hash>`). */
  readonly dir: string;
}

/** The cache mounts under `cacheRoot`, most recently used first. */
export async function listCacheMounts(cacheRoot: string): Promise<CacheMountEntry[]> {
  const out: CacheMountEntry[] = [];
  for (const name of await readdir(cacheRoot).catch(() => [] as string[])) {
    const dir = join(cacheRoot, name);
    const data = join(dir, 'data');
    const id = await readFile(join(dir, 'id'), 'utf8').catch(() => undefined);
    let lastUsedMs = 0;
    // listing reads `data` (which may move its atime): only its mtime counts, its entries' atimes too
    for (const path of [dir, data])
      lastUsedMs = Math.max(lastUsedMs, (await lstat(path).catch(() => undefined))?.mtimeMs ?? 0);
    for (const name of await readdir(data).catch(() => [] as string[])) {
      const st = await lstat(join(data, name)).catch(() => undefined);
      if (st) lastUsedMs = Math.max(lastUsedMs, st.atimeMs, st.mtimeMs);
    }
    out.push({ id, bytes: diskBytes(dir), lastUsedMs, dir });
  }
  return out.sort((a, b) => b.lastUsedMs - a.lastUsedMs || (a.dir < b.dir ? -1 : 1));
}

/**
 * `--keep-storage` for cache mounts: the most recently used kept up to `keepBytes`, the others removed.
 * Call only while no build runs (engine/prune.ts holds the store's lease check).
 */
export async function pruneCacheMounts(
  cacheRoot: string,
  keepBytes: number,
): Promise<{ readonly removed: number; readonly bytes: number; readonly keptBytes: number }> {
  let keptBytes = 0;
  let removed = 0;
  let bytes = 0;
  for (const mount of await listCacheMounts(cacheRoot)) {
    if (keptBytes + mount.bytes <= keepBytes) {
      keptBytes += mount.bytes;
      continue;
    }
    await rm(mount.dir, { recursive: true, force: true });
    removed++;
    bytes += mount.bytes;
  }
  return { removed, bytes, keptBytes };
}
