/**
 * The resolver over a directory on disk (a rootfs, a stage's tree, the build context), and a way to
 * open what it resolved to without anything being swapped in between.
 */
import { constants, lstatSync } from 'node:fs';
import { type FileHandle, lstat, open, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { WharfError } from '../errors.js';
import { isNotFound } from './files.js';
import { type FsutilErrorCode, pathComponents, type ResolveOptions, resolveInRoot } from './resolve.js';

/** The link target at `rel` inside `root` on disk, or undefined (not a link, or absent). */
export function diskReadLink(root: string): (rel: string) => Promise<string | undefined> {
  return async (rel) => {
    try {
      const st = await lstat(join(root, rel));
      return st.isSymbolicLink() ? await readlink(join(root, rel)) : undefined;
    } catch (error) {
      if (isNotFound(error, { notDirectory: true })) return undefined;
      throw error;
    }
  };
}

/**
 * True when `rel` (clean and relative; `''` is the root) and each of its parents inside `root` is a real
 * directory, none a symlink. For writing again through a path checked earlier when the tree may have
 * changed since (a later layer member, the step that ran). `known` memoizes directories already seen.
 */
export function isRealDirectory(root: string, rel: string, known = new Set<string>()): boolean {
  const parts = rel === '' ? [] : rel.split('/');
  for (let i = 1; i <= parts.length; i++) {
    const sub = parts.slice(0, i).join('/');
    if (known.has(sub)) continue;
    try {
      if (!lstatSync(join(root, sub)).isDirectory()) return false;
    } catch (error) {
      if (isNotFound(error, { notDirectory: true })) return false;
      throw error;
    }
    known.add(sub);
  }
  return true;
}

/** The clean relative path (`''` for the root) that `p` names inside the directory `root`. */
export function resolveOnDisk(root: string, p: string, options: ResolveOptions = {}): Promise<string> {
  return resolveInRoot(diskReadLink(root), p, options);
}

/** An open file or directory inside a root, reached without following any symlink. Close it after use. */
export interface OpenedInRoot {
  /** The resolved clean relative path (`''` is the root). */
  readonly rel: string;
  /** `root/rel`: a name for messages, and for callers that can only pass a path on (see {@link openInRoot}). */
  readonly path: string;
  readonly handle: FileHandle;
  readonly isDirectory: boolean;
  close(): Promise<void>;
}

const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
// O_NONBLOCK: opening a FIFO for reading must not wait for a writer.
const LEAF_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/**
 * Resolves `p` inside `root` and opens the result, or returns undefined when it does not exist.
 *
 * Check and use must see the same file: resolution lstats paths by name, and a component could be
 * replaced by a symlink afterwards. So the result is opened again one component at a time, each
 * relative to the directory opened before it (`/proc/self/fd/<dir>/<name>`, Node's stand-in for
 * `openat`) with `O_NOFOLLOW`: no symlink is followed on the way, and a link that raced in makes the
 * open fail instead of leading out of the root. Callers then use the descriptor (`/proc/self/fd/N`
 * handed to `mount`, or the handle itself), which stays the file that was checked.
 */
export async function openInRoot(
  root: string,
  p: string,
  options: Pick<ResolveOptions, 'escape'> = {},
): Promise<OpenedInRoot | undefined> {
  return openResolved(root, await resolveOnDisk(root, p, options));
}

/**
 * Opens `rel`, a resolved path (no link in any component), one component at a time: what
 * {@link openInRoot} does after resolving. A link found on the way is an error (the tree changed).
 */
export async function openResolved(root: string, rel: string): Promise<OpenedInRoot | undefined> {
  const names = pathComponents(rel);
  let handle: FileHandle;
  try {
    handle = await open(root, constants.O_RDONLY | constants.O_DIRECTORY);
  } catch (error) {
    if (isNotFound(error, { notDirectory: true })) return undefined;
    throw error;
  }
  let isDirectory = true;
  try {
    for (const [i, name] of names.entries()) {
      const last = i === names.length - 1;
      let next: FileHandle;
      try {
        next = await open(`/proc/self/fd/${handle.fd}/${name}`, last ? LEAF_FLAGS : DIR_FLAGS);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT' && code !== 'ELOOP' && code !== 'ENOTDIR') throw cannotOpen(root, rel, error);
        // A link where resolution saw none: the tree changed. A file in the way: nothing there.
        const st = await lstat(`/proc/self/fd/${handle.fd}/${name}`).catch(() => undefined);
        if (st?.isSymbolicLink()) throw changed(root, rel, error);
        await handle.close();
        return undefined;
      }
      await handle.close();
      handle = next;
      if (last) isDirectory = (await handle.stat()).isDirectory();
    }
  } catch (error) {
    await handle.close().catch(() => {});
    throw error;
  }
  const opened = handle;
  return { rel, path: join(root, rel), handle: opened, isDirectory, close: () => opened.close() };
}

function cannotOpen(root: string, rel: string, cause: unknown): WharfError<FsutilErrorCode> {
  const code = (cause as NodeJS.ErrnoException).code;
  return new WharfError<FsutilErrorCode>('PATH_CANNOT_OPEN', `cannot open /${rel} in ${root} (${code})`, {
    hint:
      code === 'ENXIO'
        ? 'it is a socket, which cannot be read or mounted this way; name a file or directory'
        : 'check that the file or directory is readable by the user running wharf',
    cause,
  });
}

function changed(root: string, rel: string, cause: unknown): WharfError<FsutilErrorCode> {
  return new WharfError<FsutilErrorCode>(
    'PATH_OUTSIDE_ROOT',
    `/${rel} in ${root} changed while it was being opened (a symlink appeared on the way)`,
    { hint: 'something else is modifying this tree during the build; stop it and retry', cause },
  );
}
