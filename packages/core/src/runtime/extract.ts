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
 * whatever its target), files are created with `O_EXCL` after removing what was there, and hard link
 * targets obey the same rules. Owners (when root), modes (including setuid), mtimes and hard links
 * are kept; device nodes, FIFOs and sockets are skipped.
 */
// Metadata calls are synchronous on purpose: a layer is thousands of tiny operations, and a thread-pool
// round trip for each made extraction two to three times slower. Big file contents still stream.
import {
  chmodSync as chmod,
  createWriteStream,
  lchownSync as lchown,
  linkSync as link,
  lstatSync,
  lutimesSync as lutimes,
  mkdirSync as mkdir,
  readdirSync as readdir,
  rmSync as rm,
  type Stats,
  symlinkSync as symlink,
  writeFileSync as writeFile,
} from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type Header, extract as tarExtract } from 'tar-stream';
import { drainEntry } from '../layer/archive.js';
import { RuntimeError } from './errors.js';
import { type DirAttrs, writeOverlayAttrs } from './overlay-attrs.js';

export type ExtractFormat = 'overlay' | 'apply';

export interface ExtractOptions {
  readonly format: ExtractFormat;
  /** Set owners from the tar (needs root). Default: true when running as root. */
  readonly owners?: boolean;
  /** Name used in error messages (the layer's diffID). */
  readonly label?: string;
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
/** Files up to this size are buffered and written with one call (fast for the many small files). */
const SMALL_FILE = 1024 * 1024;

interface DirMeta {
  mode: number;
  uid: number;
  gid: number;
  mtime: Date;
}

/** Extracts `tar` into `dir` (which must exist). See the module doc for the two formats. */
export async function extractLayer(
  tar: Readable | AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  dir: string,
  options: ExtractOptions,
): Promise<ExtractResult> {
  const extractor = new LayerExtractor(dir, options);
  const ex = tarExtract();
  const feed = (async () => {
    try {
      for await (const chunk of tar) {
        if (!ex.write(chunk as Buffer))
          await new Promise<void>((resolve) => ex.once('drain', () => resolve()));
      }
      (ex as unknown as NodeJS.WritableStream).end();
    } catch (error) {
      ex.destroy(error as Error);
    }
  })();
  try {
    for await (const entry of ex) {
      await extractor.entry(entry.header, entry as AsyncIterable<Uint8Array>);
      await drainEntry(entry);
    }
  } catch (error) {
    ex.destroy();
    await feed;
    throw error;
  }
  await feed;
  return extractor.finish();
}

class LayerExtractor {
  readonly #dir: string;
  readonly #format: ExtractFormat;
  readonly #owners: boolean;
  readonly #label: string;
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
  }

  async entry(header: Header, content: AsyncIterable<Uint8Array>): Promise<void> {
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
      const target = join2(parent, base.slice(WHITEOUT_PREFIX.length));
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
      case undefined:
      case null:
        await this.#ensureParents(parent);
        await this.#writeFile(path, header, content);
        break;
      case 'symlink':
        await this.#ensureParents(parent);
        await this.#replace(path);
        symlink(header.linkname ?? '', this.#abs(path));
        await this.#setOwner(path, header);
        lutimes(this.#abs(path), mtimeOf(header), mtimeOf(header));
        break;
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
    if (this.#format === 'overlay') {
      const whiteouts = this.#whiteouts.filter((w) => !this.#added.has(w));
      const opaque: DirAttrs[] = [];
      for (const path of this.#opaque) {
        const meta = this.#dirMeta.get(path) ?? (await this.#statMeta(path));
        opaque.push({ path, mode: meta.mode, uid: meta.uid, gid: meta.gid });
      }
      if (whiteouts.length > 0 || opaque.length > 0) {
        for (const w of whiteouts) await this.#replace(w); // a whiteout replaces nothing in its own layer
        await writeOverlayAttrs(this.#dir, whiteouts, opaque);
      }
    }
    // Directory metadata last, deepest first: children could not be written into a 0555 directory.
    const dirs = [...this.#dirMeta.entries()].sort((a, b) => depth(b[0]) - depth(a[0]));
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
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw error;
    }
  }

  async #statMeta(path: string): Promise<DirMeta> {
    const st = lstatSync(this.#abs(path));
    return { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime };
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

  async #makeDir(path: string, header: Header): Promise<void> {
    await this.#replace(path, true);
    const st = await this.#lstat(path);
    if (!st) mkdir(this.#abs(path), { mode: 0o700 });
    this.#knownDirs.add(path);
    this.#dirMeta.set(path, metaOf(header));
  }

  async #writeFile(path: string, header: Header, content: AsyncIterable<Uint8Array>): Promise<void> {
    await this.#replace(path);
    const abs = this.#abs(path);
    const size = header.size ?? 0;
    if (size <= SMALL_FILE) {
      const chunks: Buffer[] = [];
      for await (const chunk of content) chunks.push(chunk as Buffer);
      // flag 'wx' is O_CREAT|O_EXCL: never opens through a symlink or over a file raced in
      writeFile(abs, Buffer.concat(chunks), { flag: 'wx', mode: 0o600 });
    } else {
      await pipeline(content, createWriteStream(abs, { flags: 'wx', mode: 0o600 }));
    }
    await this.#setOwner(path, header);
    chmod(abs, (header.mode ?? 0o644) & 0o7777); // after chown, which clears setuid bits
    lutimes(abs, mtimeOf(header), mtimeOf(header));
  }

  async #hardlink(path: string, header: Header): Promise<void> {
    const target = this.#clean(header.linkname ?? '');
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

  async #setOwner(path: string, header: Header): Promise<void> {
    if (this.#owners) lchown(this.#abs(path), header.uid ?? 0, header.gid ?? 0);
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

function depth(path: string): number {
  return path === '' ? 0 : path.split('/').length;
}

function mtimeOf(header: Header): Date {
  return header.mtime ?? new Date(0);
}

function metaOf(header: Header): DirMeta {
  return {
    mode: (header.mode ?? 0o755) & 0o7777,
    uid: header.uid ?? 0,
    gid: header.gid ?? 0,
    mtime: mtimeOf(header),
  };
}
