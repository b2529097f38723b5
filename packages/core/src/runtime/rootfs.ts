/**
 * Paths inside a root filesystem on disk, resolved the way the container will see them by the one
 * resolver (`fsutil`: containerd continuity's `fs.RootPath`, runc's securejoin). Used before a step runs, while nothing else writes
 * to the tree: to read `/etc/passwd`, to create the working directory and mount stubs.
 */
import { constants, type Stats } from 'node:fs';
import { chown, lstat, mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { openInRoot, resolveOnDisk } from '../fsutil/disk.js';
import { isNotFound } from '../fsutil/files.js';
import { RuntimeError } from './errors.js';

async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (error) {
    if (isNotFound(error, { notDirectory: true })) return undefined;
    throw error;
  }
}

/** A regular file's bytes inside `root` (symlinks resolved in the root), or undefined if absent or too big. */
export async function readFileInRoot(
  root: string,
  p: string,
  maxBytes = 4 * 1024 * 1024,
): Promise<Buffer | undefined> {
  // openInRoot reaches the file without following a link, so the bytes are the checked file's.
  const opened = await openInRoot(root, p);
  if (!opened || opened.rel === '') {
    await opened?.close();
    return undefined;
  }
  try {
    const st = await opened.handle.stat();
    if (!st.isFile() || st.size > maxBytes) return undefined;
    return await opened.handle.readFile();
  } finally {
    await opened.close();
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
  const resolved = await resolveOnDisk(root, p);
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
