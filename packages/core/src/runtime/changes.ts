/**
 * What a RUN step changed, as layer entries: a walk of the overlay upper directory (which *is* the
 * change set), or — without overlayfs — a stat-based comparison of the copied tree with the tree it was
 * copied from. Either way the result is the same {@link ChangeSet}: entries in tar order (parents before
 * children, names sorted by UTF-8 bytes), with deletions as OCI whiteouts `.wh.<name>` and directories
 * that hide everything below them as `.wh..wh..opq`, file contents as `{kind:'path'}` into the snapshot.
 */
// Synchronous metadata calls: a walk is thousands of lstats, and a thread-pool hop each is the cost.
import {
  createReadStream,
  lstatSync as lstat,
  readdirSync as readdir,
  readlinkSync as readlink,
  type Stats,
} from 'node:fs';
import { join } from 'node:path';
import { isNotFound } from '../fsutil/files.js';
import type { LayerEntry } from '../layer/entry.js';
import { applyEntries } from '../layer/entry.js';
import { type MemoryFsView, sortByNames, sortNames } from '../layer/fs-view.js';
import { createDigester } from '../oci/index.js';
import { readOpaqueDirs } from './overlay-attrs.js';

export interface ChangeSet {
  /** Layer entries in tar order, including the OCI whiteout files; `writeLayer(store, entries)` takes them. */
  readonly entries: readonly LayerEntry[];
  /** Paths the step deleted (clean image paths, no leading `/`); each has a `.wh.<name>` entry. */
  readonly deletions: readonly string[];
  /** Directories whose older contents are hidden (`.wh..wh..opq`): deleted and re-created by the step. */
  readonly opaque: readonly string[];
}

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';

/** Keeps `view` in step with a change set: opaque directories emptied, deletions removed, entries set. */
export function applyChangeSet(view: MemoryFsView, changes: ChangeSet): void {
  for (const dir of changes.opaque) for (const name of view.list(dir)) view.remove(join2(dir, name));
  for (const path of changes.deletions) view.remove(path);
  applyEntries(
    view,
    changes.entries.filter((e) => !baseName(e.path).startsWith(WHITEOUT_PREFIX)),
  );
}

export interface ChangeOptions {
  /**
   * lstat of a path in the layers below (overlay mode). A directory that is only in the upper dir
   * because it was copied up, with its mode and owner unchanged and nothing changed below it, is left
   * out (as BuildKit's overlay differ does).
   */
  readonly lowerStat?: (path: string) => Promise<Stats | undefined>;
  /**
   * Host owner → image owner. Rootless steps run with container root mapped to the caller's uid/gid,
   * so files they make are owned by the caller on disk and must be recorded as 0:0.
   */
  readonly mapOwner?: OwnerMap;
  /** Overlay mode: the xattr that marks opaque directories (default `trusted.overlay.opaque`). */
  readonly opaqueXattr?: string;
}

export type OwnerMap = (uid: number, gid: number) => { readonly uid: number; readonly gid: number };

/** The owner map for a rootless step run by `uid:gid` (container root ↔ the caller). */
export function rootlessOwnerMap(uid: number, gid: number): OwnerMap {
  return (u, g) => ({ uid: u === uid ? 0 : u, gid: g === gid ? 0 : g });
}

function ownerOf(st: Stats, map: OwnerMap | undefined): { mode: number; uid: number; gid: number } {
  const ids = map ? map(st.uid, st.gid) : { uid: st.uid, gid: st.gid };
  return { mode: st.mode & 0o7777, uid: ids.uid, gid: ids.gid };
}

function join2(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function marker(path: string): LayerEntry {
  return {
    type: 'file',
    path,
    mode: 0,
    uid: 0,
    gid: 0,
    size: 0,
    content: { kind: 'bytes', data: new Uint8Array() },
  };
}

/** Tracks hard links among emitted files: the second name of an inode becomes a `hardlink` entry. */
class Links {
  readonly #seen = new Map<string, string>();
  readonly #map: OwnerMap | undefined;
  constructor(map: OwnerMap | undefined) {
    this.#map = map;
  }
  entry(path: string, abs: string, st: Stats): LayerEntry {
    const owner = ownerOf(st, this.#map);
    if (st.nlink > 1) {
      const key = `${st.dev}:${st.ino}`;
      const first = this.#seen.get(key);
      if (first !== undefined) return { type: 'hardlink', path, linkTarget: first, ...owner };
      this.#seen.set(key, path);
    }
    return { type: 'file', path, size: st.size, content: { kind: 'path', path: abs }, ...owner };
  }
}

async function listSorted(dir: string): Promise<string[]> {
  try {
    return sortNames(readdir(dir));
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
}

async function lstatMany(dir: string, names: readonly string[]): Promise<Stats[]> {
  return names.map((name) => lstat(join(dir, name)));
}

const isWhiteoutDevice = (st: Stats): boolean => st.isCharacterDevice() && st.rdev === 0;

/**
 * The change set recorded in an overlay upper directory: char 0:0 devices are deletions, directories
 * with `trusted.overlay.opaque=y` (or `options.opaqueXattr`) are opaque, everything else is an added or modified entry.
 */
export async function overlayChanges(upper: string, options: ChangeOptions = {}): Promise<ChangeSet> {
  interface Item {
    path: string;
    st: Stats;
  }
  const items: Item[] = [];
  const walk = async (dir: string): Promise<void> => {
    const names = await listSorted(join(upper, dir));
    const stats = await lstatMany(join(upper, dir), names);
    for (const [i, name] of names.entries()) {
      const path = join2(dir, name);
      const st = stats[i] as Stats;
      items.push({ path, st });
      if (st.isDirectory()) await walk(path);
    }
  };
  await walk('');
  const dirs = items.filter((i) => i.st.isDirectory()).map((i) => i.path);
  const opaqueSet = await readOpaqueDirs(upper, dirs, options.opaqueXattr);
  const kept = await unchangedDirsPruned(items, opaqueSet, options.lowerStat);
  const entries: LayerEntry[] = [];
  const deletions: string[] = [];
  const opaque: string[] = [];
  const links = new Links(options.mapOwner);
  for (const { path, st } of kept) {
    const abs = join(upper, path);
    const slash = path.lastIndexOf('/');
    const parent = slash < 0 ? '' : path.slice(0, slash);
    const owner = ownerOf(st, options.mapOwner);
    if (isWhiteoutDevice(st)) {
      deletions.push(path);
      entries.push(marker(join2(parent, `${WHITEOUT_PREFIX}${baseName(path)}`)));
    } else if (st.isDirectory()) {
      entries.push({ type: 'dir', path, ...owner });
      if (opaqueSet.has(path)) {
        opaque.push(path);
        entries.push(marker(join2(path, OPAQUE_MARKER)));
      }
    } else if (st.isSymbolicLink()) {
      entries.push({ type: 'symlink', path, linkTarget: readlink(abs), ...owner });
    } else if (st.isFile()) {
      entries.push(links.entry(path, abs, st));
    }
    // sockets, FIFOs and device nodes made by the step cannot go into a layer: left out
  }
  return { entries: sortMarkers(entries), deletions, opaque };
}

/** Drops copied-up directories that did not change and hold no change (children before parents). */
async function unchangedDirsPruned<T extends { path: string; st: Stats }>(
  items: readonly T[],
  opaque: ReadonlySet<string>,
  lowerStat: ((path: string) => Promise<Stats | undefined>) | undefined,
): Promise<T[]> {
  if (!lowerStat) return [...items];
  const hasKeptChild = new Set<string>();
  const kept: T[] = [];
  for (const item of [...items].reverse()) {
    const { path, st } = item;
    if (st.isDirectory() && !hasKeptChild.has(path) && !opaque.has(path)) {
      const low = await lowerStat(path);
      if (low?.isDirectory() && low.mode === st.mode && low.uid === st.uid && low.gid === st.gid) continue;
    }
    kept.push(item);
    const slash = path.lastIndexOf('/');
    hasKeptChild.add(slash < 0 ? '' : path.slice(0, slash));
  }
  return kept.reverse();
}

/**
 * Keeps tar order (parents first, names sorted) with whiteout files among their siblings, and each
 * opaque marker right after its directory — where Docker and BuildKit put them.
 */
function sortMarkers(entries: LayerEntry[]): LayerEntry[] {
  const byParent = new Map<string, LayerEntry[]>();
  const opaqueOf = new Map<string, LayerEntry>();
  for (const entry of entries) {
    const slash = entry.path.lastIndexOf('/');
    const parent = slash < 0 ? '' : entry.path.slice(0, slash);
    if (baseName(entry.path) === OPAQUE_MARKER) {
      opaqueOf.set(parent, entry);
      continue;
    }
    const list = byParent.get(parent) ?? [];
    if (list.length === 0) byParent.set(parent, list);
    list.push(entry);
  }
  const out: LayerEntry[] = [];
  const emit = (dir: string): void => {
    const opq = opaqueOf.get(dir);
    if (opq) out.push(opq);
    const children = sortByNames(byParent.get(dir) ?? [], (entry) => baseName(entry.path));
    for (const child of children) {
      out.push(child);
      if (child.type === 'dir') emit(child.path);
    }
  };
  emit('');
  return out;
}

export interface ScanOptions extends ChangeOptions {
  /**
   * When the step started (ms since the epoch). A file whose size, mode, owner and mtime all match
   * but whose ctime is later may have been rewritten with its mtime restored: its content is compared.
   */
  readonly since: number;
}

/**
 * The change set between `lower` (the tree before the step) and `upper` (a copy the step ran in),
 * compared by lstat: type, mode, owner, size, mtime (ns), link target; content hashes where the
 * metadata cannot tell. Directories are emitted when they changed or contain a change; a directory
 * born during the step where one was before is opaque (it was deleted and made again).
 */
export async function scanChanges(lower: string, upper: string, options: ScanOptions): Promise<ChangeSet> {
  const entries: LayerEntry[] = [];
  const deletions: string[] = [];
  const opaque: string[] = [];
  // Files are turned into file/hardlink entries once everything is known, in tar order (below).
  const files = new Map<string, Stats>();
  /** Unchanged files with more than one link, by inode: a new link to one makes overlay copy it up. */
  const unchangedLinked = new Map<string, string[]>();

  const addTree = async (path: string, st: Stats): Promise<void> => {
    const abs = join(upper, path);
    const owner = ownerOf(st, options.mapOwner);
    if (st.isDirectory()) {
      entries.push({ type: 'dir', path, ...owner });
      const names = await listSorted(abs);
      const stats = await lstatMany(abs, names);
      for (const [i, name] of names.entries()) await addTree(join2(path, name), stats[i] as Stats);
    } else if (st.isSymbolicLink()) {
      entries.push({ type: 'symlink', path, linkTarget: readlink(abs), ...owner });
    } else if (st.isFile()) {
      files.set(path, st);
      entries.push({ type: 'file', path, size: st.size, content: { kind: 'path', path: abs }, ...owner });
    }
  };

  /** Compares directory `dir` (present in both); returns true if anything below changed. */
  const compareDir = async (dir: string): Promise<boolean> => {
    const lowerNames = await listSorted(join(lower, dir));
    const upperNames = await listSorted(join(upper, dir));
    const names = sortNames([...new Set([...lowerNames, ...upperNames])]);
    const inLower = new Set(lowerNames);
    const inUpper = new Set(upperNames);
    let changed = false;
    for (const name of names) {
      const path = join2(dir, name);
      if (!inUpper.has(name)) {
        deletions.push(path);
        entries.push(marker(join2(dir, `${WHITEOUT_PREFIX}${name}`)));
        changed = true;
        continue;
      }
      const now = lstat(join(upper, path));
      if (!inLower.has(name)) {
        await addTree(path, now);
        changed = true;
        continue;
      }
      const before = lstat(join(lower, path));
      if (now.isDirectory() && before.isDirectory() && now.birthtimeMs >= options.since) {
        // Deleted and made again by the step: opaque with all it holds now, as overlay records it
        // (and BuildKit's layer says). A birth time of 0 means the filesystem does not keep one.
        await addTree(path, now);
        opaque.push(path);
        entries.push(marker(join2(path, OPAQUE_MARKER)));
        changed = true;
        continue;
      }
      if (now.isDirectory() && before.isDirectory()) {
        const at = entries.length;
        const metaChanged = now.mode !== before.mode || now.uid !== before.uid || now.gid !== before.gid;
        const inner = await compareDir(path);
        if (metaChanged || inner) {
          entries.splice(at, 0, { type: 'dir', path, ...ownerOf(now, options.mapOwner) });
          changed = true;
        }
        continue;
      }
      if (await sameEntry(join(lower, path), join(upper, path), before, now, options.since)) {
        if (now.isFile() && now.nlink > 1) {
          const key = `${now.dev}:${now.ino}`;
          unchangedLinked.set(key, [...(unchangedLinked.get(key) ?? []), path]);
        }
        continue;
      }
      await addTree(path, now);
      changed = true;
    }
    return changed;
  };

  await compareDir('');
  // `ln old new` on overlay copies `old` up: both names are in the layer, as a file and a hard link.
  const dirs = new Set(entries.filter((e) => e.type === 'dir').map((e) => e.path));
  for (const st of [...files.values()]) {
    for (const path of unchangedLinked.get(`${st.dev}:${st.ino}`) ?? []) {
      if (files.has(path)) continue;
      for (let slash = path.indexOf('/'); slash > 0; slash = path.indexOf('/', slash + 1)) {
        const dir = path.slice(0, slash);
        if (dirs.has(dir)) continue;
        dirs.add(dir);
        entries.push({ type: 'dir', path: dir, ...ownerOf(lstat(join(upper, dir)), options.mapOwner) });
      }
      const linked = lstat(join(upper, path));
      files.set(path, linked);
      const content = { kind: 'path' as const, path: join(upper, path) };
      entries.push({ type: 'file', path, size: linked.size, content, ...ownerOf(linked, options.mapOwner) });
    }
  }
  const links = new Links(options.mapOwner);
  const sorted = sortMarkers(entries).map((entry) =>
    entry.type === 'file' && files.has(entry.path)
      ? links.entry(entry.path, join(upper, entry.path), files.get(entry.path) as Stats)
      : entry,
  );
  return { entries: sorted, deletions, opaque };
}

async function sameEntry(
  lowerAbs: string,
  upperAbs: string,
  before: Stats,
  now: Stats,
  since: number,
): Promise<boolean> {
  // st_mode holds the type bits too
  if (before.mode !== now.mode || before.uid !== now.uid || before.gid !== now.gid) return false;
  if (now.isSymbolicLink()) return readlink(lowerAbs) === readlink(upperAbs);
  if (!now.isFile()) return true;
  if (before.size !== now.size) return false;
  const beforeNs = await mtimeNs(lowerAbs);
  const nowNs = await mtimeNs(upperAbs);
  if (beforeNs !== nowNs) return false;
  // Same metadata. Unless the file was touched during the step, it is the copy we made.
  if (now.ctimeMs < since) return true;
  return (await hashFile(lowerAbs)) === (await hashFile(upperAbs));
}

async function mtimeNs(path: string): Promise<bigint> {
  return lstat(path, { bigint: true }).mtimeNs;
}

async function hashFile(path: string): Promise<string> {
  const digester = createDigester('sha256');
  for await (const chunk of createReadStream(path)) digester.update(chunk as Buffer);
  return digester.digest();
}
