/**
 * Safe extraction of one layer tar (uncompressed) into a directory, in one of two formats:
 *
 * - `overlay`: the directory holds *this layer only*, ready to be an overlayfs lower dir — `.wh.<name>`
 *   becomes an overlay whiteout (char device 0:0), `.wh..wh..opq` marks its directory opaque
 *   (`trusted.overlay.opaque=y`). Each layer is extracted once and shared by every chain that uses it.
 * - `apply`: the directory holds the whole filesystem so far and the layer is applied to it as
 *   `docker load` would: whiteouts delete, an opaque marker empties its directory of older entries.
 *
 * Never writes outside `dir`: member names with `..` are rejected, leading `/` and `./` are dropped,
 * every parent is checked with lstat and a symlink parent is rejected (no write goes through a link,
 * whatever its target), files, directories and symlinks are created exclusively (`O_EXCL`, mkdir,
 * symlink: none follows a link) and what was there is removed when that fails with EEXIST, and hard
 * link targets obey the same rules. Owners (when root), modes (including setuid), mtimes and hard links
 * are kept; device nodes, FIFOs and sockets are skipped.
 */
// Metadata calls are synchronous on purpose: a layer is thousands of tiny operations, and a thread-pool
// round trip for each made extraction two to three times slower. A small file is written from the input
// chunk it arrived in (one write when one chunk holds it) and its owner, mode and mtime are set through
// its descriptor; big file contents still stream, with async writes.
import {
  chmodSync as chmod,
  closeSync as close,
  fchmodSync as fchmod,
  fchownSync as fchown,
  futimesSync as futimes,
  lchownSync as lchown,
  linkSync as link,
  lstatSync,
  lutimesSync as lutimes,
  mkdirSync as mkdir,
  openSync as open,
  readdirSync as readdir,
  rmSync as rm,
  type Stats,
  symlinkSync as symlink,
  writeSync as write,
} from 'node:fs';
import { type FileHandle, open as openAsync } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { isRealDirectory } from '../fsutil/disk.js';
import { isNotFound } from '../fsutil/files.js';
import { type TarEntry, TarError, TarReader } from '../tar/reader.js';
import { RuntimeError } from './errors.js';
import { type DirAttrs, writeOverlayAttrs } from './overlay-attrs.js';

export type ExtractFormat = 'overlay' | 'apply';

export interface ExtractOptions {
  readonly format: ExtractFormat;
  /** Set owners from the tar (needs root). Default: true when running as root. */
  readonly owners?: boolean;
  /** Name used in error messages (the layer's diffID). */
  readonly label?: string;
  /** `overlay` format: the opaque-directory xattr (default `trusted.overlay.opaque`; rootless: `user.…`). */
  readonly opaqueXattr?: string;
}

export interface ExtractResult {
  /** Entries written (files, dirs, links). */
  readonly entries: number;
  /** Whiteouts in the layer (clean paths of what they delete). */
  readonly whiteouts: readonly string[];
  /** Directories the layer marks opaque. */
  readonly opaque: readonly string[];
  /** Device nodes, FIFOs and other members that were skipped. */
  readonly skipped: readonly string[];
}

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE_MARKER = '.wh..wh..opq';
/** Files up to this size are written with synchronous calls (fast for the many small files); bigger ones stream. */
const SMALL_FILE = 1024 * 1024;

interface DirMeta {
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch. */
  mtime: number;
}

/** Extracts `tar` into `dir` (which must exist). See the module doc for the two formats. */
export async function extractLayer(
  tar: Readable | AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  dir: string,
  options: ExtractOptions,
): Promise<ExtractResult> {
  const extractor = new LayerExtractor(dir, options);
  const reader = new TarReader(tar);
  try {
    for (let entry = await reader.next(); entry; entry = await reader.next()) {
      await extractor.entry(entry, reader);
    }
  } catch (error) {
    await reader.close();
    if (error instanceof TarError) {
      throw new RuntimeError('RUNTIME_BAD_LAYER', `${options.label ?? 'layer'}: ${error.message}`, {
        hint: 'the layer is not a valid tar (corrupt, or still compressed): rebuild or re-pull it',
        cause: error,
      });
    }
    const failed = error as NodeJS.ErrnoException;
    if (failed.code === 'EINVAL' && /chown/.test(failed.syscall ?? '')) {
      // In a user namespace, an owner outside the mapped ids cannot be set.
      throw new RuntimeError(
        'RUNTIME_UNAVAILABLE',
        `${options.label ?? 'layer'} has files owned by ids this user namespace does not map`,
        {
          hint: 'give your user a larger range in /etc/subuid and /etc/subgid (65536 ids cover almost every image), or run wharf as root',
          cause: error,
        },
      );
    }
    throw error;
  }
  return extractor.finish();
}

class LayerExtractor {
  readonly #dir: string;
  readonly #format: ExtractFormat;
  readonly #owners: boolean;
  readonly #label: string;
  readonly #opaqueXattr: string | undefined;
  /** Directories known to exist as real directories (clean paths; '' is the root). */
  readonly #knownDirs = new Set<string>(['']);
  /** Paths this layer wrote (for opaque markers in `apply` format). */
  readonly #added = new Set<string>();
  readonly #dirMeta = new Map<string, DirMeta>();
  readonly #whiteouts: string[] = [];
  readonly #opaque: string[] = [];
  readonly #skipped: string[] = [];
  #count = 0;

  constructor(dir: string, options: ExtractOptions) {
    this.#dir = dir;
    this.#format = options.format;
    this.#owners = options.owners ?? process.getuid?.() === 0;
    this.#label = options.label ?? 'layer';
    this.#opaqueXattr = options.opaqueXattr;
  }

  /** Extracts one member; a file's content is read from `reader`. */
  async entry(header: TarEntry, reader: TarReader): Promise<void> {
    const path = this.#clean(header.name);
    if (path === '') {
      if (header.type === 'directory') this.#dirMeta.set('', metaOf(header));
      return;
    }
    const slash = path.lastIndexOf('/');
    const parent = slash < 0 ? '' : path.slice(0, slash);
    const base = path.slice(slash + 1);
    if (base === OPAQUE_MARKER) {
      await this.#ensureParents(parent);
      this.#opaque.push(parent);
      if (this.#format === 'apply') await this.#clearOlder(parent);
      return;
    }
    if (base.startsWith(WHITEOUT_PREFIX)) {
      const name = base.slice(WHITEOUT_PREFIX.length);
      if (name === '.' || name === '..') {
        // `.wh...` would delete the directory above the layer (`.wh..` the layer's own)
        throw new RuntimeError(
          'RUNTIME_UNSAFE_LAYER',
          `${this.#label}: whiteout "${header.name}" names "${name}"`,
          { hint: 'the image is malformed or malicious: rebuild or re-pull it from a trusted source' },
        );
      }
      const target = join2(parent, name);
      if (target === parent || base.length === WHITEOUT_PREFIX.length) return;
      await this.#ensureParents(parent);
      this.#whiteouts.push(target);
      if (this.#format === 'apply') await this.#remove(target);
      return;
    }
    switch (header.type) {
      case 'directory':
        await this.#ensureParents(parent);
        await this.#makeDir(path, header);
        break;
      case 'file':
      case 'contiguous-file':
      case null:
        await this.#ensureParents(parent);
        await this.#writeFile(path, header, reader);
        break;
      case 'symlink': {
        await this.#ensureParents(parent);
        const abs = this.#abs(path);
        await this.#create(path, () => symlink(header.linkname, abs));
        if (this.#owners) lchown(abs, header.uid, header.gid);
        lutimes(abs, header.mtime, header.mtime);
        break;
      }
      case 'link':
        await this.#ensureParents(parent);
        await this.#hardlink(path, header);
        break;
      default:
        // character/block devices, FIFOs: never created (a build does not need them, and they are a risk)
        this.#skipped.push(path);
        return;
    }
    this.#added.add(path);
    this.#count++;
  }

  async finish(): Promise<ExtractResult> {
    // A later member may have replaced a directory recorded below with a symlink (to a host path):
    // nothing is written through one, so only paths whose directories are still real ones are touched.
    const real = new Set<string>();
    const inRealDir = (path: string) => isRealDirectory(this.#dir, parentOf(path), real);
    if (this.#format === 'overlay') {
      const whiteouts = this.#whiteouts.filter((w) => !this.#added.has(w) && inRealDir(w));
      const opaque: DirAttrs[] = [];
      for (const path of this.#opaque.filter((p) => isRealDirectory(this.#dir, p, real))) {
        const meta = this.#dirMeta.get(path) ?? (await this.#statMeta(path));
        opaque.push({ path, mode: meta.mode, uid: meta.uid, gid: meta.gid });
      }
      if (whiteouts.length > 0 || opaque.length > 0) {
        for (const w of whiteouts) await this.#replace(w); // a whiteout replaces nothing in its own layer
        await writeOverlayAttrs(this.#dir, whiteouts, opaque, this.#opaqueXattr);
      }
    }
    // Directory metadata last, deepest first: children could not be written into a 0555 directory.
    const dirsSeen = new Set<string>(); // (the whiteouts above may have removed some)
    const dirs = [...this.#dirMeta.entries()]
      .filter(([path]) => isRealDirectory(this.#dir, path, dirsSeen))
      .sort((a, b) => depth(b[0]) - depth(a[0]));
    for (const [path, meta] of dirs) {
      const abs = this.#abs(path);
      if (this.#owners) lchown(abs, meta.uid, meta.gid);
      chmod(abs, meta.mode);
      lutimes(abs, meta.mtime, meta.mtime);
    }
    return { entries: this.#count, whiteouts: this.#whiteouts, opaque: this.#opaque, skipped: this.#skipped };
  }

  /** Member name → clean relative path; `..` anywhere is rejected. */
  #clean(name: string): string {
    const parts = name.split('/').filter((c) => c !== '' && c !== '.');
    if (parts.includes('..')) {
      throw new RuntimeError(
        'RUNTIME_UNSAFE_LAYER',
        `${this.#label}: member "${name}" climbs out of the layer with ".."`,
        {
          hint: 'the image is malformed or malicious: rebuild or re-pull it from a trusted source',
        },
      );
    }
    if (parts.some((c) => c.includes('\0'))) {
      throw new RuntimeError('RUNTIME_BAD_LAYER', `${this.#label}: member name contains a NUL byte`);
    }
    return parts.join('/');
  }

  #abs(path: string): string {
    return path === '' ? this.#dir : join(this.#dir, path);
  }

  async #lstat(path: string): Promise<Stats | undefined> {
    try {
      return lstatSync(this.#abs(path));
    } catch (error) {
      if (isNotFound(error, { notDirectory: true })) return undefined;
      throw error;
    }
  }

  async #statMeta(path: string): Promise<DirMeta> {
    const st = lstatSync(this.#abs(path));
    return { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtimeMs / 1000 };
  }

  /**
   * Every component of `dir` exists as a real directory: missing ones are created (0755), a symlink is
   * `RUNTIME_UNSAFE_LAYER` (the write would go through it), another file is replaced (as tar does).
   */
  async #ensureParents(dir: string): Promise<void> {
    if (this.#knownDirs.has(dir)) return;
    const parts = dir.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const sub = parts.slice(0, i).join('/');
      if (this.#knownDirs.has(sub)) continue;
      const st = await this.#lstat(sub);
      if (st?.isSymbolicLink()) {
        throw new RuntimeError(
          'RUNTIME_UNSAFE_LAYER',
          `${this.#label}: /${sub} is a symlink, and the layer writes below it (/${dir}/…)`,
          { hint: 'the image is malformed or malicious: a layer may not write through a symbolic link' },
        );
      }
      if (!st?.isDirectory()) {
        if (st) rm(this.#abs(sub), { force: true });
        mkdir(this.#abs(sub), { mode: 0o755 });
      }
      this.#knownDirs.add(sub);
    }
  }

  /** Removes whatever is at `path` unless it is a directory (tar semantics: a directory merges). */
  async #replace(path: string, keepDir = false): Promise<void> {
    const st = await this.#lstat(path);
    if (!st) return;
    if (keepDir && st.isDirectory()) return;
    await this.#remove(path);
  }

  async #remove(path: string): Promise<void> {
    // rm never follows a symlink it removes; parents were checked by #ensureParents.
    rm(this.#abs(path), { recursive: true, force: true });
    for (const known of this.#knownDirs)
      if (known === path || known.startsWith(`${path}/`)) this.#knownDirs.delete(known);
  }

  async #makeDir(path: string, header: TarEntry): Promise<void> {
    if (!this.#knownDirs.has(path)) {
      const abs = this.#abs(path);
      try {
        mkdir(abs, { mode: 0o700 });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        await this.#replace(path, true);
        if (!(await this.#lstat(path))) mkdir(abs, { mode: 0o700 });
      }
      this.#knownDirs.add(path);
    }
    this.#dirMeta.set(path, metaOf(header));
  }

  /**
   * Runs `create`, which makes `path` and fails with EEXIST when something is there (O_EXCL, mkdir,
   * symlink: none follows a symlink); then what is there is removed and `create` runs again. Trying
   * first saves an lstat per member in the common case, a fresh directory.
   */
  async #create<T>(path: string, create: () => T | Promise<T>): Promise<T> {
    try {
      return await create();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    await this.#replace(path);
    return await create();
  }

  async #writeFile(path: string, header: TarEntry, reader: TarReader): Promise<void> {
    const abs = this.#abs(path);
    const mode = header.mode & 0o7777;
    // flag 'wx' is O_CREAT|O_EXCL: never opens through a symlink or over a file raced in
    if (header.size <= SMALL_FILE) {
      // Content straight from the input chunks: a small file inside one chunk is one write.
      const fd = await this.#create(path, () => open(abs, 'wx', 0o600));
      try {
        for (let piece = await reader.read(); piece; piece = await reader.read()) writeAll(fd, piece);
        if (this.#owners) fchown(fd, header.uid, header.gid);
        fchmod(fd, mode); // after chown, which clears setuid bits
        futimes(fd, header.mtime, header.mtime);
      } finally {
        close(fd);
      }
      return;
    }
    const handle: FileHandle = await this.#create(path, () => openAsync(abs, 'wx', 0o600));
    try {
      // one input chunk at a time: the next is read once this one is written
      for (let piece = await reader.read(); piece; piece = await reader.read()) {
        for (let at = 0; at < piece.byteLength; ) {
          at += (await handle.write(piece, at, piece.byteLength - at)).bytesWritten;
        }
      }
      if (this.#owners) await handle.chown(header.uid, header.gid);
      await handle.chmod(mode);
      await handle.utimes(header.mtime, header.mtime);
    } finally {
      await handle.close();
    }
  }

  async #hardlink(path: string, header: TarEntry): Promise<void> {
    const target = this.#clean(header.linkname);
    const slash = target.lastIndexOf('/');
    if (slash >= 0) await this.#checkParents(target.slice(0, slash), path);
    const st = target === '' ? undefined : await this.#lstat(target);
    if (!st || st.isDirectory()) {
      throw new RuntimeError(
        'RUNTIME_BAD_LAYER',
        `${this.#label}: /${path} is a hard link to /${target}, which is not ${st ? 'a file' : this.#format === 'overlay' ? 'in this layer' : 'in the layers'}`,
        { hint: 'the layer is malformed: rebuild it' },
      );
    }
    if (target === path) return;
    await this.#replace(path);
    link(this.#abs(target), this.#abs(path));
  }

  /** Like #ensureParents, but nothing is created: a hard link target must already exist. */
  async #checkParents(dir: string, path: string): Promise<void> {
    if (this.#knownDirs.has(dir)) return;
    const parts = dir.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const sub = parts.slice(0, i).join('/');
      const st = await this.#lstat(sub);
      if (st?.isSymbolicLink()) {
        throw new RuntimeError(
          'RUNTIME_UNSAFE_LAYER',
          `${this.#label}: hard link /${path} points through the symlink /${sub}`,
          {
            hint: 'the image is malformed or malicious: rebuild or re-pull it from a trusted source',
          },
        );
      }
    }
  }

  /** `apply` format, `.wh..wh..opq` in `dir`: removes what older layers put there, keeping this layer's. */
  async #clearOlder(dir: string): Promise<void> {
    let names: string[];
    try {
      names = readdir(this.#abs(dir));
    } catch {
      return;
    }
    for (const name of names) {
      const child = join2(dir, name);
      if (!this.#added.has(child)) await this.#remove(child);
      else if ((await this.#lstat(child))?.isDirectory()) await this.#clearOlder(child);
    }
  }
}

function join2(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash);
}

function depth(path: string): number {
  return path === '' ? 0 : path.split('/').length;
}

function metaOf(header: TarEntry): DirMeta {
  return { mode: header.mode & 0o7777, uid: header.uid, gid: header.gid, mtime: header.mtime };
}

/** Writes all of `data` at the file position (a regular file takes it in one call; this loops if not). */
function writeAll(fd: number, data: Uint8Array): void {
  for (let at = 0; at < data.byteLength; ) at += write(fd, data, at, data.byteLength - at);
}
