/**
 * Walks a build context directory the way BuildKit's context sender does (tonistiigi/fsutil's
 * filtered walk over Go's filepath.WalkDir): entries in lexical byte order of names within each
 * directory, parents before children, `.dockerignore` rules applied with moby/patternmatcher
 * semantics, excluded directories skipped unread unless an exception might re-include something
 * inside, and an excluded directory reported after all (just before its first re-included
 * descendant) when something inside it is kept. Symlinks are reported, never followed.
 */
import { type Dirent, lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { WharfError } from '../errors.js';
import { isNotFound } from '../fsutil/files.js';
import { sortByNames } from './fs-view.js';
import {
  createIgnoreMatcher,
  type IgnoreMatcher,
  type ParentMatchInfo,
  parseDockerignore,
} from './ignore.js';

export type ContextErrorCode = 'CONTEXT_NOT_FOUND' | 'CONTEXT_NOT_DIRECTORY' | 'CONTEXT_READ_FAILED';

/** `other` is a socket, fifo or device node: callers decide whether to reject it. */
export type ContextEntryType = 'file' | 'dir' | 'symlink' | 'other';

/** The {@link ContextEntryType} of an `lstat` result. */
export function entryTypeOf(st: {
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
}): ContextEntryType {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  return st.isSymbolicLink() ? 'symlink' : 'other';
}

export interface ContextEntry {
  /** Slash-separated path relative to the context root, without a leading `./`. */
  readonly relPath: string;
  readonly absPath: string;
  readonly type: ContextEntryType;
  /** The raw `st_mode` (file type bits and permission bits) from lstat. */
  readonly mode: number;
  /** lstat size: content length for files, target length for symlinks. */
  readonly size: number;
  readonly uid: number;
  readonly gid: number;
  readonly mtimeMs: number;
  /** Modification time in nanoseconds since the epoch, for exact tar headers. */
  readonly mtimeNs: bigint;
  /** Inode and device as bigint: inode numbers may exceed 2^53 and hardlink detection needs them exact. */
  readonly ino: bigint;
  readonly dev: bigint;
  /** Link count; a file with `nlink > 1` may share `dev`+`ino` with another entry (a hardlink). */
  readonly nlink: number;
  /** The symlink's target text, for `type: 'symlink'`. */
  readonly linkTarget?: string;
}

export interface WalkContextOptions {
  /**
   * Ignore patterns (already read, e.g. with `parseDockerignore`). When left out, `<dir>/.dockerignore`
   * is read if present, as Docker does. Pass `[]` to walk everything.
   */
  readonly ignore?: readonly string[];
}

/** The patterns of `<dir>/.dockerignore`, or `[]` when there is none. */
export async function readContextIgnore(dir: string): Promise<string[]> {
  const file = path.join(dir, '.dockerignore');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    if (isNotFound(cause)) return [];
    throw new WharfError<ContextErrorCode>('CONTEXT_READ_FAILED', `cannot read ${file}`, { cause });
  }
  return parseDockerignore(text);
}

/**
 * Yields every entry of the context directory `dir` that the ignore rules keep (the root itself is
 * not yielded). `.dockerignore` and the Dockerfile get no special treatment: they are sent when
 * the patterns keep them, as BuildKit does.
 */
export async function* walkContext(
  dir: string,
  options: WalkContextOptions = {},
): AsyncGenerator<ContextEntry> {
  const state = await openContextRoot(dir, options);
  yield* walkDir(state, state.root, '', undefined, [], false);
}

/** A checked context directory and its compiled ignore rules: what walking or listing it needs. */
export interface ContextRoot {
  readonly root: string;
  readonly matcher: IgnoreMatcher | undefined;
}

/** Checks that `dir` is a directory and compiles its ignore rules (`.dockerignore` unless given). */
export async function openContextRoot(dir: string, options: WalkContextOptions = {}): Promise<ContextRoot> {
  const root = path.resolve(dir);
  let rootStat: Awaited<ReturnType<typeof stat>>;
  try {
    rootStat = await stat(root);
  } catch (cause) {
    if (isNotFound(cause)) {
      throw new WharfError<ContextErrorCode>('CONTEXT_NOT_FOUND', `build context ${root} does not exist`, {
        hint: 'pass an existing directory as the build context',
        cause,
      });
    }
    throw new WharfError<ContextErrorCode>('CONTEXT_READ_FAILED', `cannot stat build context ${root}`, {
      cause,
    });
  }
  if (!rootStat.isDirectory()) {
    throw new WharfError<ContextErrorCode>(
      'CONTEXT_NOT_DIRECTORY',
      `build context ${root} is not a directory`,
      {
        hint: 'the build context must be a directory',
      },
    );
  }
  const fromFile = options.ignore === undefined;
  const patterns = options.ignore ?? (await readContextIgnore(root));
  const matcher =
    patterns.length > 0
      ? createIgnoreMatcher(patterns, {
          origin: fromFile ? path.join(root, '.dockerignore') : 'ignore pattern',
        })
      : undefined;
  return { root, matcher };
}

/** A kept entry of one directory, with what its children are matched against. */
export interface ListedEntry {
  /** The entry's name in its directory (as read: a flat string, cheap to use as a key). */
  readonly name: string;
  readonly entry: ContextEntry;
  readonly info: ParentMatchInfo | undefined;
}

/**
 * The kept entries of one context directory, in walk order (UTF-8 byte order of names), without
 * descending: what {@link walkContext} yields for that directory when no `!` exception exists (then
 * an excluded directory is never entered, so a directory's entries depend only on its own path).
 * `info` is the directory's own match info (`undefined` for the root). Lets a COPY of two files
 * stat two files instead of walking the whole context. Synchronous, like the lstats: a COPY of
 * node_modules lists thousands of directories in a row, and its replay check asks them all at once.
 */
export function listContextDir(
  context: ContextRoot,
  relDir: string,
  info: ParentMatchInfo | undefined,
): ListedEntry[] {
  if (context.matcher?.hasExclusions) {
    throw new Error('listContextDir: patterns with exceptions need the whole walk (walkContext)');
  }
  const absDir = relDir === '' ? context.root : path.join(context.root, relDir);
  let dirents: Dirent[];
  try {
    dirents = readdirSync(absDir, { withFileTypes: true });
  } catch (cause) {
    if (isNotFound(cause, { notDirectory: true })) return [];
    throw readFailed(relDir || '.', absDir, cause);
  }
  const listed: ListedEntry[] = [];
  // absDir is resolved and a name has no `/`: a plain join (path.join normalises every time)
  const prefix = absDir.endsWith('/') ? absDir : `${absDir}/`;
  for (const dirent of sortByName(dirents)) {
    const relPath = relDir === '' ? dirent.name : `${relDir}/${dirent.name}`;
    const match = context.matcher?.matchWithParent(relPath, info);
    if (match?.excluded) continue;
    const entry = statEntry(relPath, prefix + dirent.name);
    if (entry) listed.push({ name: dirent.name, entry, info: match?.info });
  }
  return listed;
}

function sortByName(dirents: Dirent[]): Dirent[] {
  return sortByNames(dirents, (dirent) => dirent.name);
}

interface WalkState {
  readonly root: string;
  readonly matcher: IgnoreMatcher | undefined;
}

/** An excluded directory that was entered anyway; it is yielded before its first kept descendant. */
interface PendingDir {
  readonly entry: ContextEntry;
  emitted: boolean;
}

async function* walkDir(
  state: WalkState,
  absDir: string,
  relDir: string,
  parentInfo: ParentMatchInfo | undefined,
  pending: readonly PendingDir[],
  dirExcluded: boolean,
): AsyncGenerator<ContextEntry> {
  let dirents: Dirent[];
  try {
    dirents = await readdir(absDir, { withFileTypes: true });
  } catch (cause) {
    const code = errorCode(cause);
    // Vanished meanwhile; or unreadable but excluded anyway (fsutil ignores permission errors there).
    if (isNotFound(cause, { notDirectory: true })) return;
    if (dirExcluded && (code === 'EACCES' || code === 'EPERM')) return;
    throw readFailed(relDir || '.', absDir, cause);
  }
  // Decide from the name and dirent type which entries need an lstat: kept entries, and excluded
  // directories that must be entered. Excluded files are never stat'ed.
  const plans = sortByName(dirents).map((dirent) => {
    const relPath = relDir === '' ? dirent.name : `${relDir}/${dirent.name}`;
    let excluded = false;
    let info: ParentMatchInfo | undefined;
    if (state.matcher) {
      ({ excluded, info } = state.matcher.matchWithParent(relPath, parentInfo));
    }
    const enter = dirent.isDirectory() && (!excluded || (state.matcher?.mayReinclude(relPath) ?? false));
    return { relPath, absPath: path.join(absDir, dirent.name), excluded, info, enter };
  });

  const entries = new Map<string, ContextEntry | undefined>();
  for (const p of plans) {
    if (!p.excluded || p.enter) entries.set(p.relPath, statEntry(p.relPath, p.absPath));
  }

  for (const plan of plans) {
    const entry = entries.get(plan.relPath);
    if (entry === undefined) continue; // excluded file, or vanished since readdir
    if (plan.excluded) {
      if (entry.type !== 'dir') continue; // was a directory at readdir time, is not any more
      yield* walkDir(
        state,
        entry.absPath,
        entry.relPath,
        plan.info,
        [...pending, { entry, emitted: false }],
        true,
      );
      continue;
    }
    for (const parent of pending) {
      if (!parent.emitted) {
        parent.emitted = true;
        yield parent.entry;
      }
    }
    yield entry;
    if (entry.type === 'dir') {
      yield* walkDir(state, entry.absPath, entry.relPath, plan.info, [], false);
    }
  }
}

// lstat is synchronous on purpose: a context is thousands of entries, and a thread-pool round trip for
// each made the first walk of a 3000-file context 5× slower (0.3 s) than these calls.
function statEntry(relPath: string, absPath: string): ContextEntry | undefined {
  try {
    const st = lstatSync(absPath, { bigint: true });
    const type = entryTypeOf(st);
    const base = {
      relPath,
      absPath,
      type,
      mode: Number(st.mode),
      size: Number(st.size),
      uid: Number(st.uid),
      gid: Number(st.gid),
      mtimeMs: Number(st.mtimeNs) / 1e6,
      mtimeNs: st.mtimeNs,
      ino: st.ino,
      dev: st.dev,
      nlink: Number(st.nlink),
    };
    if (type !== 'symlink') return base;
    return { ...base, linkTarget: readlinkSync(absPath) };
  } catch (cause) {
    if (isNotFound(cause)) return undefined;
    throw readFailed(relPath, absPath, cause);
  }
}

function readFailed(relPath: string, absPath: string, cause: unknown): WharfError<ContextErrorCode> {
  return new WharfError<ContextErrorCode>(
    'CONTEXT_READ_FAILED',
    `cannot read ${relPath} in the build context`,
    {
      hint: `check the permissions of ${absPath}, or exclude it in .dockerignore`,
      cause,
    },
  );
}

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string'
    ? error.code
    : undefined;
}
