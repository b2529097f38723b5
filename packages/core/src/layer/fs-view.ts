/**
 * "The image filesystem so far", as COPY/ADD need to see it: what is at a path (lstat semantics),
 * nothing more. The engine implements {@link FsView} over the lower layers; this module gives an
 * in-memory tree ({@link MemoryFsView}), a way to build one by applying layer tars in order
 * (whiteouts `.wh.<name>` and opaque directories `.wh..wh..opq` honoured), a copy-on-write overlay
 * for planning, and path resolution inside the image root (the one resolver in `fsutil`, over this view).
 */
import path from 'node:path';
import type { Readable } from 'node:stream';
import { WharfError } from '../errors.js';
import { type ReadLinkSync, resolveInRootSync } from '../fsutil/resolve.js';
import { type TarEntry, TarError, TarReader } from '../tar/reader.js';
import type { LayerEntry } from './entry.js';

export type FsViewErrorCode = 'FS_BAD_LAYER';

export type FsNodeType = 'file' | 'dir' | 'symlink';

/** What is at a path. `mode` holds permission bits only (`0o7777`), never file-type bits. */
export interface FsStat {
  readonly type: FsNodeType;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** The symlink's target text, for `type: 'symlink'`. */
  readonly linkTarget?: string;
}

/** A read-only view of an image filesystem. Paths are image paths (`/etc/passwd` or `etc/passwd`). */
export interface FsView {
  /** The entry at `path` without following a final symlink (lstat), or `undefined` when absent. */
  lookup(path: string): FsStat | undefined;
}

/** The clean, slash-separated form of an image path without a leading `/`; `''` is the root. `..` stops at the root. */
export function cleanImagePath(p: string): string {
  // Most paths (layer records, joined names) are clean already; normalising each one dominated the
  // time to build a base image's view.
  if (!UNCLEAN.test(p)) return p;
  return path.posix.normalize(`/${p}`).slice(1).replace(/\/$/, '');
}

/** A leading or trailing `/`, `//`, or a `.`/`..` component: what {@link cleanImagePath} must normalise. */
const UNCLEAN = /^\/|\/$|\/\/|(?:^|\/)\.\.?(?:\/|$)/;

/** The parent of a clean image path (`''` for top-level names and the root). */
export function parentOf(clean: string): string {
  const i = clean.lastIndexOf('/');
  return i < 0 ? '' : clean.slice(0, i);
}

/** The last component of a clean image path. */
export function baseOf(clean: string): string {
  return clean.slice(clean.lastIndexOf('/') + 1);
}

export function joinImagePath(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

/**
 * Resolves `p` inside the image root with the one resolver (`fsutil`, containerd's `fs.RootPath`
 * semantics, which BuildKit uses for every COPY destination): symlinks are followed, absolute targets
 * restart at the image root, `..` never climbs above it. With `followFinal: false` a symlink in the
 * last component is kept (lstat semantics). Returns a clean path (`''` for the root).
 */
export function resolveInView(view: FsView, p: string, options: { followFinal?: boolean } = {}): string {
  return resolveInRootSync(viewReadLink(view), p, options);
}

/** The view as the resolver asks about it: a symlink's target, or undefined. */
export function viewReadLink(view: FsView): ReadLinkSync {
  return (rel) => {
    const st = view.lookup(rel);
    return st?.type === 'symlink' ? (st.linkTarget ?? '') : undefined;
  };
}

/**
 * `p` resolved with directory `dir` of the view as the root, as a clean image path: what tar
 * extraction under a destination sees when it runs chrooted there (BuildKit's ADD of a local archive),
 * so links in the archive, even `up -> ..`, cannot lead out of the destination.
 */
export function resolveUnder(view: FsView, dir: string, p: string): string {
  const base = cleanImagePath(dir);
  const inside = resolveInRootSync((rel) => viewReadLink(view)(cleanImagePath(`${base}/${rel}`)), p);
  return cleanImagePath(`${base}/${inside}`);
}

interface Node {
  stat: FsStat;
  children?: Map<string, Node>;
  /**
   * A directory's records not applied yet ({@link MemoryFsView.setAll}), oldest first: what a layer
   * put below it, applied when something first looks into it.
   */
  pending?: PendingRecords[];
}

/** `records[start..end)`: plain set records of one layer, all below one directory, in layer order. */
interface PendingRecords {
  readonly records: readonly SetRecord[];
  readonly start: number;
  readonly end: number;
}

type SetRecord = Extract<LayerRecord, { op: 'set' }>;

/** A mutable in-memory filesystem tree. The root is a directory (0755, 0:0) and always exists. */
export class MemoryFsView implements FsView {
  readonly #root: Node = { stat: { type: 'dir', mode: 0o755, uid: 0, gid: 0 }, children: new Map() };
  /**
   * The directory the last {@link set} put something in: a layer's entries come directory by
   * directory, and walking each path from the root was most of the time to apply a big layer. Dropped
   * whenever a node is replaced or removed (the directory may be gone from the tree).
   */
  #lastDir: { readonly path: string; readonly node: Node } | undefined;

  lookup(p: string): FsStat | undefined {
    return this.#node(cleanImagePath(p))?.stat;
  }

  /**
   * Puts `stat` at `p`, as tar extraction does: missing parents are created (0755, 0:0), a parent that
   * is not a directory is replaced by one, a directory put over a directory keeps its children, and
   * anything else replaces what was there.
   */
  set(p: string, stat: FsStat): void {
    const clean = cleanImagePath(p);
    if (clean === '') {
      if (stat.type === 'dir') this.#root.stat = stat;
      return;
    }
    const parent = this.#ensureDir(parentOf(clean));
    const name = baseOf(clean);
    const existing = parent.get(name);
    if (existing && existing.stat.type === 'dir' && stat.type === 'dir') {
      existing.stat = stat;
      return;
    }
    if (existing) this.#lastDir = undefined;
    parent.set(name, stat.type === 'dir' ? { stat, children: new Map() } : { stat });
  }

  /**
   * Puts `records` (plain set records of one layer: no whiteouts, opaque markers or hard links, whose
   * stats depend on the view below) in order, as {@link set} would. A directory's subtree — the
   * records right after it whose paths lie below it — is kept on the directory and put when something
   * first looks into it: a later step that looks at `/app` of a view whose layer below put 26 000
   * files in `/app/node_modules` reads one directory, not 26 000 (that was most of the time to apply
   * it). Until then nothing can see the difference: every path into the directory goes through it.
   */
  setAll(records: readonly SetRecord[], start = 0, end = records.length): void {
    for (let i = start; i < end; ) {
      const record = records[i] as SetRecord;
      this.set(record.path, statOfRecord(this, record));
      i++;
      if (record.type !== 'dir' || UNCLEAN.test(record.path)) continue;
      const below = `${record.path}/`;
      let last = i;
      while (last < end) {
        const path = (records[last] as SetRecord).path;
        if (!path.startsWith(below) || UNCLEAN.test(path)) break;
        last++;
      }
      if (last === i) continue;
      const node = this.#node(record.path) as Node; // a directory: just set
      // the remembered directory below it would skip this batch: set() there must go through it
      if (this.#lastDir?.path.startsWith(below)) this.#lastDir = undefined;
      const batch = { records, start: i, end: last };
      if (node.pending) node.pending.push(batch);
      else node.pending = [batch];
      i = last;
    }
  }

  /** Removes `p` and everything below it; false when nothing was there. */
  remove(p: string): boolean {
    const clean = cleanImagePath(p);
    if (clean === '') return false;
    const parent = this.#node(parentOf(clean));
    const children = parent && this.#children(parent);
    // after putting what was pending there, which may remember a directory in what is removed now
    this.#lastDir = undefined;
    return children?.delete(baseOf(clean)) ?? false;
  }

  /** The names in directory `p`, sorted by UTF-8 bytes; `[]` when `p` is not a directory. */
  list(p: string): string[] {
    const node = this.#node(cleanImagePath(p));
    return sortNames([...((node && this.#children(node))?.keys() ?? [])]);
  }

  /** An independent copy (a stage built FROM another stage changes its own copy). */
  clone(): MemoryFsView {
    const copy = new MemoryFsView();
    // Node by node: stats are never changed in place (set replaces them), so the copy shares them.
    // Records not put yet are shared too (records are never changed): each copy puts them into its own nodes.
    const copyNode = (node: Node): Node => {
      if (!node.children) return { stat: node.stat };
      const children = new Map<string, Node>();
      for (const [name, child] of node.children) children.set(name, copyNode(child));
      return node.pending
        ? { stat: node.stat, children, pending: [...node.pending] }
        : { stat: node.stat, children };
    };
    const root = copyNode(this.#root);
    copy.#root.stat = root.stat;
    copy.#root.children = root.children;
    if (root.pending) copy.#root.pending = root.pending;
    return copy;
  }

  /** Every path (depth first, names sorted by UTF-8 bytes, parents first) with its stat; the root is left out. */
  *walk(dir = ''): Generator<[string, FsStat]> {
    const clean = cleanImagePath(dir);
    for (const name of this.list(clean)) {
      const child = joinImagePath(clean, name);
      const st = this.lookup(child) as FsStat;
      yield [child, st];
      if (st.type === 'dir') yield* this.walk(child);
    }
  }

  #node(clean: string): Node | undefined {
    let node: Node | undefined = this.#root;
    if (clean === '') return node;
    for (const name of clean.split('/')) {
      node = this.#children(node)?.get(name);
      if (!node) return undefined;
    }
    return node;
  }

  /** A node's children, with what is pending below it put first. */
  #children(node: Node): Map<string, Node> | undefined {
    const pending = node.pending;
    if (pending) {
      node.pending = undefined;
      for (const { records, start, end } of pending) this.setAll(records, start, end);
    }
    return node.children;
  }

  #ensureDir(clean: string): Map<string, Node> {
    let node = this.#root;
    if (clean === '') return this.#children(node) as Map<string, Node>;
    const last = this.#lastDir;
    if (last?.path === clean) return this.#children(last.node) as Map<string, Node>;
    for (const name of clean.split('/')) {
      const children = this.#children(node) as Map<string, Node>;
      let next = children.get(name);
      if (next?.stat.type !== 'dir') {
        if (next) this.#lastDir = undefined; // a file replaced by a directory
        next = { stat: { type: 'dir', mode: 0o755, uid: 0, gid: 0 }, children: new Map() };
        children.set(name, next);
      }
      node = next;
    }
    this.#lastDir = { path: clean, node };
    return this.#children(node) as Map<string, Node>;
  }
}

/** Byte order of UTF-8 names, as Go sorts directory entries. */
export function compareNames(a: string, b: string): number {
  // Without surrogates, UTF-16 code units sort as code points, and so as UTF-8 bytes: no encoding
  // needed (two buffers per comparison were most of the time to sort a context's listings).
  if (!SURROGATE.test(a) && !SURROGATE.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** A UTF-16 surrogate: a character outside the BMP (or a lone surrogate, which UTF-8 encodes as U+FFFD). */
const SURROGATE = /[\uD800-\uDFFF]/;

/**
 * `items` sorted in place by their names in {@link compareNames} order: the names are checked for
 * surrogates once, not at every comparison (the test was most of the time to sort a big listing).
 */
export function sortByNames<T>(items: T[], nameOf: (item: T) => string): T[] {
  if (items.some((item) => SURROGATE.test(nameOf(item)))) {
    return items.sort((a, b) => compareNames(nameOf(a), nameOf(b)));
  }
  return items.sort((a, b) => {
    const x = nameOf(a);
    const y = nameOf(b);
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

/** `names` sorted in place in {@link compareNames} order. */
export function sortNames(names: string[]): string[] {
  return sortByNames(names, (name) => name);
}

/**
 * A copy-on-write view over `base`: `set` records changes here and leaves `base` untouched. The
 * planner uses one per COPY so that later sources see what earlier ones wrote. It only adds and
 * replaces entries (COPY never deletes).
 */
export class OverlayFsView implements FsView {
  readonly #base: FsView;
  readonly #changes = new Map<string, FsStat>();

  constructor(base: FsView) {
    this.#base = base;
  }

  lookup(p: string): FsStat | undefined {
    const clean = cleanImagePath(p);
    return this.#changes.get(clean) ?? this.#base.lookup(clean);
  }

  set(p: string, stat: FsStat): void {
    this.#changes.set(cleanImagePath(p), stat);
  }
}

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE_MARKER = '.wh..wh..opq';

/**
 * Applies one layer tar (uncompressed) to `view`, in entry order: `.wh.<name>` removes `<name>`
 * from the lower layers, `.wh..wh..opq` hides everything the lower layers had in its directory, and
 * every other entry is put with {@link MemoryFsView.set}. Hard links take the stat of their target.
 * File contents are not kept.
 */
export async function applyLayerTar(
  view: MemoryFsView,
  tar: Readable | AsyncIterable<Uint8Array>,
): Promise<void> {
  applyLayerRecords(view, await readLayerRecords(tar));
}

/**
 * What a layer tar does to a filesystem view, without the file contents: small enough to keep on disk
 * per diffID, so a view of a base image is rebuilt without decompressing its layers again.
 */
export type LayerRecord =
  | { readonly op: 'opaque'; readonly dir: string }
  | { readonly op: 'whiteout'; readonly path: string }
  | {
      readonly op: 'set';
      readonly path: string;
      readonly type: 'file' | 'dir' | 'symlink' | 'hardlink';
      readonly mode: number;
      readonly uid: number;
      readonly gid: number;
      readonly link?: string;
    };

/** Reads a layer tar into records (contents are skipped). */
export async function readLayerRecords(
  tar: Readable | AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): Promise<LayerRecord[]> {
  const records: LayerRecord[] = [];
  const reader = new TarReader(tar);
  try {
    for (let entry = await reader.next(); entry; entry = await reader.next()) {
      const record = recordOf(entry);
      if (record) records.push(record);
    }
  } catch (error) {
    await reader.close();
    if (error instanceof TarError) {
      throw new WharfError<FsViewErrorCode>('FS_BAD_LAYER', `cannot read a layer tar: ${error.message}`, {
        hint: 'the layer is not a valid tar (corrupt, or still compressed): rebuild or re-pull it',
        cause: error,
      });
    }
    throw error;
  }
  return records;
}

function recordOf(entry: TarEntry): LayerRecord | undefined {
  const type = recordType(entry.type);
  const set = type && {
    type,
    mode: entry.mode & 0o7777,
    uid: entry.uid,
    gid: entry.gid,
    ...(entry.linkname ? { link: entry.linkname } : {}),
  };
  return recordAt(cleanImagePath(entry.name), set);
}

/** What reading the tar written from `entries` records (whiteout files become deletions), without it. */
export function recordsOfEntries(entries: readonly LayerEntry[]): LayerRecord[] {
  return entries.flatMap((entry) => {
    const link = entry.type === 'symlink' || entry.type === 'hardlink' ? { link: entry.linkTarget } : {};
    const set = { type: entry.type, mode: entry.mode & 0o7777, uid: entry.uid, gid: entry.gid, ...link };
    return recordAt(entry.path, set) ?? [];
  });
}

type SetFields = Omit<Extract<LayerRecord, { op: 'set' }>, 'op' | 'path'>;

/** The record of a member at clean path `clean`: an opaque marker, a whiteout, or what it sets. */
function recordAt(clean: string, set: SetFields | undefined): LayerRecord | undefined {
  const base = baseOf(clean);
  if (base === OPAQUE_MARKER) return { op: 'opaque', dir: parentOf(clean) };
  if (base.startsWith(WHITEOUT_PREFIX)) {
    return { op: 'whiteout', path: joinImagePath(parentOf(clean), base.slice(WHITEOUT_PREFIX.length)) };
  }
  if (clean === '' || !set) return undefined;
  return { op: 'set', path: clean, ...set };
}

/** Applies a layer's records to a view, as extracting the layer would change the filesystem. */
export function applyLayerRecords(view: MemoryFsView, records: readonly LayerRecord[]): void {
  // Plain sets (most COPY layers): below each directory, put when first looked at.
  if (records.every((record) => record.op === 'set' && record.type !== 'hardlink')) {
    view.setAll(records as readonly SetRecord[]);
    return;
  }
  // What this layer added, for its opaque directories only: most layers have none (a set of every
  // path of a 26 000-entry layer cost 3–12 ms of the 30–70 to apply it).
  const added = records.some((record) => record.op === 'opaque') ? new Set<string>() : undefined;
  for (const record of records) {
    if (record.op === 'opaque') hideLower(view, record.dir, added as Set<string>);
    else if (record.op === 'whiteout') view.remove(record.path);
    else {
      const stat = statOfRecord(view, record);
      view.set(record.path, stat);
      added?.add(record.path);
    }
  }
}

/** Builds a view by applying layer tars (uncompressed) in order. */
export async function fsViewFromLayers(
  layers:
    | Iterable<Readable | AsyncIterable<Uint8Array>>
    | AsyncIterable<Readable | AsyncIterable<Uint8Array>>,
): Promise<MemoryFsView> {
  const view = new MemoryFsView();
  for await (const layer of layers) await applyLayerTar(view, layer);
  return view;
}

function hideLower(view: MemoryFsView, dir: string, added: ReadonlySet<string>): void {
  for (const name of view.list(dir)) {
    const child = joinImagePath(dir, name);
    if (!added.has(child)) view.remove(child);
    else if (view.lookup(child)?.type === 'dir') hideLower(view, child, added);
  }
}

function recordType(type: TarEntry['type']): 'file' | 'dir' | 'symlink' | 'hardlink' | undefined {
  switch (type) {
    case 'directory':
      return 'dir';
    case 'file':
    case 'contiguous-file':
      return 'file';
    case 'symlink':
      return 'symlink';
    case 'link':
      return 'hardlink';
    default:
      return undefined; // devices, fifos: not visible to COPY
  }
}

function statOfRecord(view: MemoryFsView, record: SetRecord): FsStat {
  const { mode, uid, gid } = record;
  // literals, not a spread of a shared owner object: one allocation per record of a 26 000-entry view
  switch (record.type) {
    case 'dir':
      return { type: 'dir', mode, uid, gid };
    case 'file':
      return { type: 'file', mode, uid, gid };
    case 'symlink':
      return { type: 'symlink', mode, uid, gid, linkTarget: record.link ?? '' };
    case 'hardlink': {
      const target = view.lookup(cleanImagePath(record.link ?? ''));
      if (!target) {
        throw new WharfError<FsViewErrorCode>(
          'FS_BAD_LAYER',
          `layer entry ${record.path} is a hard link to ${record.link}, which is not in the layers`,
        );
      }
      return target;
    }
  }
}
