/**
 * Where COPY reads from: the build context (walked once with `walkContext`, so `.dockerignore`d
 * files simply do not exist) or a directory on disk holding a stage's root filesystem. Both are
 * {@link SourceTree}s: lstat and readdir by slash path relative to the tree's root.
 *
 * Symlinks are resolved by {@link resolveSource} (the one resolver, `fsutil`). In the build context a path that leaves the
 * context (`..` above the root, a symlink with an absolute target or one that climbs out) is an
 * error; in a stage root filesystem the root behaves like `/` (absolute targets restart at the
 * root, `..` stops there), as BuildKit's `fs.RootPath` does.
 */
import { lstatSync, readlinkSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { WharfError } from '../errors.js';
import { isNotFound } from '../fsutil/files.js';
import { PathOutsideRootError, resolveInRoot, resolveInRootSync } from '../fsutil/resolve.js';
import {
  type ContextEntry,
  type ContextRoot,
  entryTypeOf,
  type ListedEntry,
  listContextDir,
  openContextRoot,
  type WalkContextOptions,
  walkContext,
} from './context-walk.js';
import { sortNames } from './fs-view.js';

export type SourceErrorCode =
  | 'COPY_SOURCE_OUTSIDE_CONTEXT'
  | 'COPY_TOO_MANY_LINKS'
  | 'COPY_SOURCE_READ_FAILED';

/** lstat data of a source entry. `mode` is permission bits only (`0o7777`). */
export interface SourceStat {
  readonly type: 'file' | 'dir' | 'symlink' | 'other';
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly linkTarget?: string;
  /** Device and inode, to find hard links within one COPY. */
  readonly dev: bigint;
  readonly ino: bigint;
  /** Modification time (ns) as lstat saw it, for the content-digest stat cache; absent for the root. */
  readonly mtimeNs?: bigint;
  readonly nlink: number;
  /** Where the content is on disk. */
  readonly absPath: string;
}

export interface SourceTree {
  /** `context`: paths may not leave the root; `rootfs`: the root acts as `/`. */
  readonly kind: 'context' | 'rootfs';
  /** For messages: "the build context", "stage build". */
  readonly description: string;
  /** lstat of a clean relative path (`''` is the root); `undefined` when absent. */
  lstat(relPath: string): Promise<SourceStat | undefined>;
  /** Names in a directory, sorted by UTF-8 bytes. */
  readdir(relPath: string): Promise<readonly string[]>;
  /**
   * Keeps every listing read from now on until the returned function is called (then the usual cap
   * applies again), for a caller about to read the same directories twice in a row: a COPY whose
   * replay check failed is then planned (engine/steps/copy-replay.ts). Absent: nothing to keep.
   */
  hold?(): () => void;
  /**
   * The same answers without waiting, for a caller asking thousands of questions in a row (a COPY's
   * replay check, `source-reads.ts`): no promise per question. Absent when the tree must wait.
   */
  readonly sync?: SyncSourceReads;
}

/** {@link SourceTree.lstat} and {@link SourceTree.readdir}, answered at once. */
export interface SyncSourceReads {
  lstat(relPath: string): SourceStat | undefined;
  readdir(relPath: string): readonly string[];
}

/**
 * The build context at `dir` as a source tree (respecting `.dockerignore`, or `options.ignore`).
 * Owners are reported as 0:0: BuildKit creates context files as root unless `--chown` says otherwise.
 * Directories are read when a COPY first looks into them, so `COPY package.json ./` stats one file
 * in a context of 30 000; with `!` exceptions (an excluded directory may hold kept files) the whole
 * context is walked once up front instead.
 */
export async function openContextSource(
  dir: string,
  options: ContextSourceOptions = {},
): Promise<SourceTree> {
  const context = await openContextRoot(dir, options);
  return context.matcher?.hasExclusions
    ? walkedContextSource(context, options)
    : lazyContextSource(context, options.keptEntries ?? KEPT_ENTRIES);
}

export interface ContextSourceOptions extends WalkContextOptions {
  /** How many listed entries the lazy context keeps (the most recently used directories'); default 8192. */
  readonly keptEntries?: number;
}

const ROOT_STAT = { type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, dev: 0n, ino: 0n, nlink: 1 } as const;

function contextStat(e: ContextEntry): SourceStat {
  const { type, size, dev, ino, mtimeNs, nlink, absPath } = e;
  const mode = e.mode & 0o7777;
  // two literals, not a spread of an optional field: one made per context entry a COPY lists
  return e.linkTarget === undefined
    ? { type, mode, uid: 0, gid: 0, size, dev, ino, mtimeNs, nlink, absPath }
    : { type, mode, uid: 0, gid: 0, size, dev, ino, mtimeNs, nlink, absPath, linkTarget: e.linkTarget };
}

/** Directories listed between two turns of the event loop. */
const YIELD_EVERY = 32;

/**
 * Entries of listed directories kept, the most recently used directories' first. A COPY of a tree asks
 * for each directory in a row, and keeping every listing held each file's stat for the whole build
 * (~8 MB of a 26 000-file COPY's peak heap); a directory asked for again after it was dropped is
 * listed again (the same checks, a fresh lstat).
 */
const KEPT_ENTRIES = 8192;

/**
 * A listed directory's kept entries by name, each its answer to lstat (made once), and for those that
 * have it what their children are matched against; undefined when it is not a kept directory.
 */
type Listing =
  | { readonly stats: Map<string, SourceStat>; readonly infos: Map<string, ListedEntry['info']> }
  | undefined;

function lazyContextSource(context: ContextRoot, keptEntries: number): SourceTree {
  const rootStat: SourceStat = { ...ROOT_STAT, absPath: context.root };
  // Each listed directory's entries, read once while kept, in least recently used order. Listing is
  // synchronous (readdir and lstats), so concurrent COPYs never read one directory twice.
  const listings = new Map<string, Listing>();
  let kept = 0;
  let holds = 0;
  let listed = 0;
  let listedAtYield = 0;
  /** Drops the least recently used listings (but `current`) while more than the cap are kept. */
  const trim = (current?: string): void => {
    for (const [dir, listing] of listings) {
      if (kept <= keptEntries || holds > 0) break;
      if (dir === current) continue;
      listings.delete(dir);
      kept -= listing?.stats.size ?? 0;
    }
  };
  let last: { dir: string; listing: Listing } | undefined;
  const listing = (relDir: string): Listing => {
    // A COPY of a tree asks about one directory's entries in a row: it is the most recently used already.
    if (last?.dir === relDir && listings.has(relDir)) return last.listing;
    if (listings.has(relDir)) {
      const known = listings.get(relDir);
      listings.delete(relDir); // most recently used last
      listings.set(relDir, known);
      last = { dir: relDir, listing: known };
      return known;
    }
    let info: ListedEntry['info'];
    let isDir = true;
    if (relDir !== '') {
      const slash = relDir.lastIndexOf('/');
      const parent = listing(slash < 0 ? '' : relDir.slice(0, slash));
      const name = relDir.slice(slash + 1);
      isDir = parent?.stats.get(name)?.type === 'dir';
      info = parent?.infos.get(name);
    }
    let made: Listing;
    if (isDir) {
      made = { stats: new Map(), infos: new Map() };
      for (const entry of listContextDir(context, relDir, info)) {
        made.stats.set(entry.name, contextStat(entry.entry));
        // only with .dockerignore rules: no second object per entry of a plain 26 000-file listing
        if (entry.info !== undefined) made.infos.set(entry.name, entry.info);
      }
      listed++;
    }
    // a failed read threw above and is not kept: the next COPY tries again
    listings.set(relDir, made);
    kept += made?.stats.size ?? 0;
    last = { dir: relDir, listing: made };
    trim(relDir);
    return made;
  };
  /** The listing is synchronous: lets other steps' I/O run now and then during a big COPY's walk. */
  const breathe = async (): Promise<void> => {
    if (listed - listedAtYield < YIELD_EVERY) return;
    listedAtYield = listed;
    await new Promise((resolve) => setImmediate(resolve));
  };
  const sync: SyncSourceReads = {
    lstat(relPath) {
      if (relPath === '') return rootStat;
      const slash = relPath.lastIndexOf('/');
      return listing(slash < 0 ? '' : relPath.slice(0, slash))?.stats.get(relPath.slice(slash + 1));
    },
    readdir(relPath) {
      return [...(listing(relPath)?.stats.keys() ?? [])];
    },
  };
  return {
    kind: 'context',
    description: 'the build context',
    async lstat(relPath) {
      await breathe();
      return sync.lstat(relPath);
    },
    async readdir(relPath) {
      await breathe();
      return sync.readdir(relPath);
    },
    sync,
    hold() {
      holds++;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        holds--;
        trim();
      };
    },
  };
}

async function walkedContextSource(context: ContextRoot, options: WalkContextOptions): Promise<SourceTree> {
  const entries = new Map<string, ContextEntry>();
  const children = new Map<string, string[]>([['', []]]);
  for await (const entry of walkContext(context.root, options)) {
    entries.set(entry.relPath, entry);
    const slash = entry.relPath.lastIndexOf('/');
    const parent = slash < 0 ? '' : entry.relPath.slice(0, slash);
    children.get(parent)?.push(entry.relPath.slice(slash + 1));
    if (entry.type === 'dir') children.set(entry.relPath, []);
  }
  const rootStat: SourceStat = { ...ROOT_STAT, absPath: context.root };
  const sync: SyncSourceReads = {
    lstat(relPath) {
      if (relPath === '') return rootStat;
      const e = entries.get(relPath);
      return e && contextStat(e);
    },
    readdir(relPath) {
      return children.get(relPath) ?? [];
    },
  };
  return {
    kind: 'context',
    description: 'the build context',
    lstat: async (relPath) => sync.lstat(relPath),
    readdir: async (relPath) => sync.readdir(relPath),
    sync,
  };
}

export interface DirSourceOptions {
  /** For messages, e.g. `stage build`. */
  readonly description?: string;
  /**
   * The owner to report for an entry, when the files on disk do not carry the image's owners (a
   * rootless extraction). Default: the owner on disk.
   */
  readonly ownerOf?: (relPath: string, onDisk: { uid: number; gid: number }) => { uid: number; gid: number };
}

/** A directory on disk holding a stage's root filesystem, read lazily. */
export function openDirSource(dir: string, options: DirSourceOptions = {}): SourceTree {
  const root = path.resolve(dir);
  return {
    kind: 'rootfs',
    description: options.description ?? root,
    async lstat(relPath) {
      const absPath = relPath === '' ? root : path.join(root, relPath);
      let st: import('node:fs').BigIntStats;
      try {
        // synchronous: a COPY --from walks thousands of entries one after another
        st = lstatSync(absPath, { bigint: true });
      } catch (cause) {
        if (isNotFound(cause, { notDirectory: true })) return undefined;
        throw readFailed(relPath, cause);
      }
      const type = entryTypeOf(st);
      const onDisk = { uid: Number(st.uid), gid: Number(st.gid) };
      const owner = options.ownerOf ? options.ownerOf(relPath, onDisk) : onDisk;
      return {
        type,
        mode: Number(st.mode) & 0o7777,
        uid: owner.uid,
        gid: owner.gid,
        size: Number(st.size),
        dev: st.dev,
        ino: st.ino,
        mtimeNs: st.mtimeNs,
        nlink: Number(st.nlink),
        absPath,
        ...(type === 'symlink' ? { linkTarget: readlinkSync(absPath) } : {}),
      };
    },
    async readdir(relPath) {
      try {
        return sortNames(await readdir(relPath === '' ? root : path.join(root, relPath)));
      } catch (cause) {
        throw readFailed(relPath, cause);
      }
    },
  };
}

function readFailed(relPath: string, cause: unknown): WharfError<SourceErrorCode> {
  return new WharfError<SourceErrorCode>(
    'COPY_SOURCE_READ_FAILED',
    `cannot read /${relPath} of the COPY source`,
    {
      cause,
    },
  );
}

/**
 * Splits a user-given source path into clean components, rejecting `..` above the root for a
 * context source and clamping it for a root filesystem. Returns the clean relative path.
 */
export function cleanSourcePath(tree: SourceTree, given: string): string {
  return inCopyWords(tree, given, () => resolveInRootSync(() => undefined, given, escapeOf(tree)));
}

/**
 * Resolves symlinks in `relPath` (a clean relative path) inside `tree` with the one resolver
 * (`fsutil`), following the last component too when `followFinal`. Missing components are kept
 * literally (the caller's lstat then finds nothing).
 */
export async function resolveSource(tree: SourceTree, relPath: string, followFinal = true): Promise<string> {
  const readLink = async (rel: string) => {
    const st = await tree.lstat(rel);
    return st?.type === 'symlink' ? (st.linkTarget ?? '') : undefined;
  };
  return inCopyWords(tree, relPath, () =>
    resolveInRoot(readLink, relPath, { followFinal, ...escapeOf(tree) }),
  );
}

/** In the build context a path that leaves it is an error; a root filesystem's root acts as `/`. */
function escapeOf(tree: SourceTree): { escape: 'clamp' | 'refuse' } {
  return { escape: tree.kind === 'context' ? 'refuse' : 'clamp' };
}

/** Runs a resolution, turning the resolver's errors into COPY's. */
function inCopyWords<T>(tree: SourceTree, given: string, resolve: () => T): T {
  const mapped = (error: unknown): never => {
    if (error instanceof PathOutsideRootError) {
      throw outside(
        tree,
        given,
        error.link === undefined
          ? `${given} points above the context root`
          : error.reason === 'absolute'
            ? `${error.link} is a symlink to the absolute path ${error.target}, outside the context`
            : `a symlink in ${given} points above the context root`,
      );
    }
    if (error instanceof WharfError && error.code === 'PATH_TOO_MANY_LINKS') {
      throw new WharfError<SourceErrorCode>('COPY_TOO_MANY_LINKS', error.message, {
        hint: 'a symlink loop in the COPY source: fix the link targets',
      });
    }
    throw error;
  };
  try {
    const result = resolve();
    return result instanceof Promise ? (result.catch(mapped) as T) : result;
  } catch (error) {
    return mapped(error);
  }
}

function outside(tree: SourceTree, given: string, message: string): WharfError<SourceErrorCode> {
  return new WharfError<SourceErrorCode>('COPY_SOURCE_OUTSIDE_CONTEXT', `COPY source ${given}: ${message}`, {
    hint: `COPY can only read files inside ${tree.description}; move the file into it, or use a named context`,
  });
}
