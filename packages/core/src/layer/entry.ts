/**
 * A layer as a plan: the ordered entries a COPY/ADD writes, before any byte is read. The tar
 * writer turns them into a tar in this order; the engine applies them to its {@link FsView}.
 * Paths are clean image paths without a leading `/` (`usr/bin/app`); parents come before children.
 */
import type { Compression } from './archive.js';
import type { FsStat, MemoryFsView } from './fs-view.js';

/** Where a file's bytes come from. */
export type FileContent =
  /**
   * A file on disk, read when the layer is written. `mtimeNs` (with the entry's size, `ino` and `dev`)
   * is what the planning lstat saw, for the content-digest stat cache.
   */
  | {
      readonly kind: 'path';
      readonly path: string;
      readonly seen?: { readonly mtimeNs: bigint; readonly ino: bigint; readonly dev: bigint };
      /**
       * Read without moving the file's access time (`O_NOATIME`, where the kernel permits it: the
       * file's owner or root): a cache mount's files are exported by least recent use, which a read
       * for the export must not change.
       */
      readonly noAtime?: true;
    }
  /** Member number `member` (0-based, counting every header) of a local tar archive (ADD). */
  | {
      readonly kind: 'archive';
      readonly archive: string;
      readonly compression: Compression;
      readonly member: number;
    }
  /** Bytes in memory (heredocs, generated files). */
  | { readonly kind: 'bytes'; readonly data: Uint8Array };

interface EntryBase {
  readonly path: string;
  /** Permission bits (`0o7777`). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

export type LayerEntry =
  | (EntryBase & { readonly type: 'dir' })
  | (EntryBase & { readonly type: 'file'; readonly size: number; readonly content: FileContent })
  | (EntryBase & { readonly type: 'symlink'; readonly linkTarget: string })
  /** A hard link to an earlier entry of the same layer (`linkTarget` is that entry's path). */
  | (EntryBase & { readonly type: 'hardlink'; readonly linkTarget: string });

/** The stat an entry leaves at its path (a hard link takes its target's, when `view` has it). */
export function statOfEntry(entry: LayerEntry, view?: { lookup(p: string): FsStat | undefined }): FsStat {
  const owner = { mode: entry.mode, uid: entry.uid, gid: entry.gid };
  switch (entry.type) {
    case 'dir':
      return { type: 'dir', ...owner };
    case 'file':
      return { type: 'file', ...owner };
    case 'symlink':
      return { type: 'symlink', ...owner, linkTarget: entry.linkTarget };
    case 'hardlink':
      return view?.lookup(entry.linkTarget) ?? { type: 'file', ...owner };
  }
}

/** Applies entries to a view in order, as extracting the layer would. */
export function applyEntries(view: MemoryFsView, entries: Iterable<LayerEntry>): void {
  for (const entry of entries) view.set(entry.path, statOfEntry(entry, view));
}
