/**
 * Placing a blob file that already exists on disk (a store blob) into a layout at the cost of a link:
 * a hardlink on the same filesystem, else `copyFile` with `COPYFILE_FICLONE` (a reflink where the
 * filesystem has them — btrfs, XFS — and a kernel copy elsewhere). The store wrote and verified the
 * file when it stored it and keeps it read-only (0444), so it is not hashed again here: its size is
 * checked, and readers of the layout (skopeo, umoci, wharf) verify digests as they read.
 */
import { constants, type Stats } from 'node:fs';
import { chmod, copyFile, link, lstat, open, unlink } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { storedBlobOf } from '../image/index.js';
import type { Digest } from '../oci/index.js';

/** How a blob got into the layout. */
export type Placement = 'link' | 'copy';

/** Link errors that mean "not here, copy instead" (another filesystem, no hardlinks, too many links). */
const CANNOT_LINK = new Set(['EXDEV', 'EPERM', 'EMLINK', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EACCES']);

/** The store's file behind `stream` when it holds `digest` (see `storedBlobOf`), else undefined. */
export function fileBehind(stream: Readable, digest: Digest): string | undefined {
  const stored = storedBlobOf(stream);
  return stored?.digest === digest ? stored.file : undefined;
}

/**
 * `WHARF_LAYOUT_COPY=1` streams every blob into the layout (verified, independent files) instead of
 * linking: for a layout that will be edited in place, or to measure what linking saves.
 */
export function linkingDisabled(): boolean {
  return process.env.WHARF_LAYOUT_COPY === '1';
}

/**
 * Puts `source` at `dest` (absent): hardlink, else reflink or copy (fsynced). Returns how, or
 * undefined (and leaves nothing at `dest`) when the result is not a regular file of `size` bytes —
 * the caller then streams the blob, which verifies it and names the problem.
 */
export async function placeFile(source: string, dest: string, size: number): Promise<Placement | undefined> {
  let how: Placement = 'link';
  try {
    await link(source, dest);
  } catch (error) {
    if (!CANNOT_LINK.has((error as NodeJS.ErrnoException).code ?? '')) throw error;
    how = 'copy';
    await copyFile(source, dest, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
    await syncFile(dest);
  }
  const placed = await lstat(dest);
  if (!placed.isFile() || placed.size !== size) {
    await unlink(dest);
    return undefined;
  }
  // A linked inode is the store's: keep it read-only even if an older wharf stored it writable.
  if (how === 'link' && (placed.mode & 0o222) !== 0) await chmod(dest, placed.mode & 0o7555);
  return how;
}

/** Whether two stats name the same file (a hardlink of it). */
export function sameFile(a: Stats, b: Stats): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

async function syncFile(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
