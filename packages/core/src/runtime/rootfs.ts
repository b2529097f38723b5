/**
 * Paths inside a root filesystem on disk, resolved the way the container will see them: symlinks are
 * followed, but an absolute target restarts at the root and `..` never climbs above it (containerd
 * continuity's `fs.RootPath`, runc's securejoin). Used before a step runs, while nothing else writes
 * to the tree: to read `/etc/passwd`, to create the working directory and mount stubs.
 */
import { constants, type Stats } from 'node:fs';
import { chown, lstat, mkdir, open, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { RuntimeError } from './errors.js';

const MAX_LINKS = 255;

/** `a//b/./c/` → `['a','b','c']`; `..` is kept for the resolver. */
function components(p: string): string[] {
  return p.split('/').filter((c) => c !== '' && c !== '.');
}

async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (error) {
    if (
      (error as NodeJS.ErrnoException).code === 'ENOENT' ||
      (error as NodeJS.ErrnoException).code === 'ENOTDIR'
    )
      return undefined;
    throw error;
  }
}

/**
 * The clean relative path (`''` for the root) that `p` names inside `root`. Missing components are kept
 * literally; with `followFinal: false` a final symlink is not followed (lstat semantics).
 */
export async function resolveInRoot(
  root: string,
  p: string,
  options: { followFinal?: boolean } = {},
): Promise<string> {
  const followFinal = options.followFinal ?? true;
  let pending = components(p);
  const current: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const [name, ...rest] = pending as [string, ...string[]];
    pending = rest;
    if (name === '..') {
      current.pop();
      continue;
    }
    const candidate = [...current, name];
    const st = await lstatOrUndefined(join(root, ...candidate));
    if (st?.isSymbolicLink() && (pending.length > 0 || followFinal)) {
      if (++links > MAX_LINKS) {
        throw new RuntimeError('RUN_BAD_MOUNT', `too many levels of symbolic links resolving ${p}`, {
          hint: 'a symlink loop in the image: fix the link targets',
        });
      }
      const target = await readlink(join(root, ...candidate));
      if (target.startsWith('/')) current.length = 0;
      pending = [...components(target), ...pending];
      continue;
    }
    current.push(name);
  }
  return current.join('/');
}

/** A regular file's bytes inside `root` (symlinks resolved in the root), or undefined if absent or too big. */
export async function readFileInRoot(
  root: string,
  p: string,
  maxBytes = 4 * 1024 * 1024,
): Promise<Buffer | undefined> {
  const rel = await resolveInRoot(root, p);
  if (rel === '') return undefined;
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    // O_NOFOLLOW: the resolved path has no symlink left in its last component; refuse one that raced in.
    handle = await open(join(root, rel), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') return undefined;
    throw error;
  }
  try {
    const st = await handle.stat();
    if (!st.isFile() || st.size > maxBytes) return undefined;
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

export interface CreateInRootOptions {
  /** What to create at the final component when it is missing. */
  readonly kind: 'dir' | 'file';
  /** Mode of created directories (and of the final one); default 0755. Files get 0644. */
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
}

export interface CreatedInRoot {
  /** The resolved clean path of the final component. */
  readonly path: string;
  /** Clean paths this call created, parents first (empty when everything existed). */
  readonly created: readonly string[];
}

/**
 * Makes sure `p` exists inside `root` (like `mkdir -p`, or a stub file for a file mount), resolving
 * symlinks within the root. Existing components are left alone; a non-directory in the way of a parent
 * is `RUN_BAD_MOUNT`.
 */
export async function createInRoot(
  root: string,
  p: string,
  options: CreateInRootOptions,
): Promise<CreatedInRoot> {
  const resolved = await resolveInRoot(root, p);
  const parts = resolved === '' ? [] : resolved.split('/');
  const created: string[] = [];
  for (let i = 1; i <= parts.length; i++) {
    const rel = parts.slice(0, i).join('/');
    const abs = join(root, rel);
    const last = i === parts.length;
    const st = await lstatOrUndefined(abs);
    if (st) {
      if (!last && !st.isDirectory()) {
        throw new RuntimeError(
          'RUN_BAD_MOUNT',
          `/${rel} is not a directory, so /${resolved} cannot be created`,
          {
            hint: 'choose another path, or remove that file in an earlier step',
          },
        );
      }
      continue;
    }
    if (last && options.kind === 'file') {
      const handle = await open(
        abs,
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
        0o644,
      );
      await handle.close();
    } else {
      await mkdir(abs, { mode: options.mode ?? 0o755 });
    }
    if (options.uid !== undefined || options.gid !== undefined)
      await chown(abs, options.uid ?? 0, options.gid ?? 0);
    created.push(rel);
  }
  return { path: resolved, created };
}
