/**
 * Content digests of context files with a stat cache: a file whose path, size, mtime, inode and device
 * are unchanged since it was last hashed is not read again. The cache is a hint, never the truth about
 * content that ends up in a layer: the layer writer reads and hashes the bytes it writes.
 */
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, openSync, readSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../fsutil/files.js';
import { hashFiles } from './hash-pool.js';

/** Files up to this size are read with one call. */
const SMALL_FILE = 1024 * 1024;

interface Entry {
  readonly size: number;
  readonly mtimeNs: string;
  readonly ino: string;
  readonly dev: string;
  readonly sha256: string;
}

/**
 * One buffer for every small file: `readFileSync` allocated a buffer per file, and thousands of dead
 * buffers waiting for a GC made a 26 000-file COPY's RSS grow by tens of MB.
 */
const scratch = Buffer.allocUnsafe(SMALL_FILE);

/** The file's bytes in the shared scratch buffer, or `undefined` when it has grown past it meanwhile. */
function readSmall(path: string): Buffer | undefined {
  const fd = openSync(path, 'r');
  try {
    let filled = 0;
    while (filled < scratch.length) {
      const n = readSync(fd, scratch, filled, scratch.length - filled, null);
      if (n === 0) return scratch.subarray(0, filled);
      filled += n;
    }
    return readSync(fd, Buffer.alloc(1), 0, 1, null) === 0 ? scratch : undefined;
  } finally {
    closeSync(fd);
  }
}

/** What the stat cache compares: an lstat (bigint) of the file, or the same fields from a listing. */
export interface FileIdentity {
  readonly size: number | bigint;
  readonly mtimeNs: bigint;
  readonly ino: bigint;
  readonly dev: bigint;
}

/** Below this many files and bytes to hash, worker threads cost more than they save. */
const POOL_MIN_FILES = 64;
const POOL_MIN_BYTES = 16 * 1024 * 1024;

type Key = Omit<Entry, 'sha256'>;

/** The stat-cache key of `path`: from the caller's lstat when given, else from a stat now. */
function keyOf(path: string, stat?: FileIdentity): Key {
  // The caller's lstat of a moment ago (a context listing) saves a second stat per file.
  const info = stat ?? statSync(path, { bigint: true });
  return {
    size: Number(info.size),
    mtimeNs: String(info.mtimeNs),
    ino: String(info.ino),
    dev: String(info.dev),
  };
}

export class FileDigests {
  #entries = new Map<string, Entry>();
  #dirty = false;
  #hashed = 0;
  #reused = 0;

  private constructor(private readonly file: string) {}

  /** Opens (or starts) the stat cache kept in `file`. */
  static async open(file: string): Promise<FileDigests> {
    const cache = new FileDigests(file);
    try {
      const data = JSON.parse(await readFile(file, 'utf8')) as Record<string, Entry>;
      cache.#entries = new Map(Object.entries(data));
    } catch {
      // No cache yet, or an unreadable one: start empty.
    }
    return cache;
  }

  /**
   * sha256 (hex) of the file's content. The stat and small reads are synchronous: a COPY asks for
   * thousands of files one after another, and a thread-pool round trip each cost more than the calls.
   */
  async digest(path: string, stat?: FileIdentity): Promise<string> {
    const key = keyOf(path, stat);
    return this.#known(path, key) ?? (await this.#hash(path, key));
  }

  /**
   * The digests of many files, in order: stat-cache hits answered at once, and when many files (or
   * bytes) are left, those hashed on worker threads (`hash-pool.ts`), all cores at once.
   */
  async digestMany(
    files: readonly { readonly path: string; readonly stat?: FileIdentity }[],
  ): Promise<string[]> {
    const out = new Array<string>(files.length);
    const misses: { index: number; path: string; size: number; key: Key }[] = [];
    let missBytes = 0;
    files.forEach(({ path, stat }, index) => {
      const key = keyOf(path, stat);
      const known = this.#known(path, key);
      if (known !== undefined) out[index] = known;
      else {
        misses.push({ index, path, size: key.size, key });
        missBytes += key.size;
      }
    });
    if (misses.length < POOL_MIN_FILES && missBytes < POOL_MIN_BYTES) {
      for (const miss of misses) out[miss.index] = await this.#hash(miss.path, miss.key);
      return out;
    }
    const digests = await hashFiles(misses);
    misses.forEach((miss, i) => {
      out[miss.index] = this.#record(miss.path, miss.key, digests[i] as string);
    });
    return out;
  }

  /**
   * How many of `files` (and how many bytes) the stat cache cannot answer: what {@link digestMany}
   * would read. A COPY with many unknown files hashes them while writing its layer instead.
   */
  unknown(files: readonly { readonly path: string; readonly stat?: FileIdentity }[]): {
    files: number;
    bytes: number;
  } {
    let count = 0;
    let bytes = 0;
    for (const { path, stat } of files) {
      const key = keyOf(path, stat);
      if (this.#lookup(path, key) === undefined) {
        count++;
        bytes += key.size;
      }
    }
    return { files: count, bytes };
  }

  /**
   * Records the digest of `path` as hashed elsewhere from its bytes (a layer writer's tar), under the
   * stat `stat` taken before it was read.
   */
  learn(path: string, stat: FileIdentity, sha256: string): void {
    const key = keyOf(path, stat);
    if (this.#lookup(path, key) !== sha256) this.#record(path, key, sha256);
  }

  #known(path: string, key: Key): string | undefined {
    const sha256 = this.#lookup(path, key);
    if (sha256 !== undefined) this.#reused++;
    return sha256;
  }

  #lookup(path: string, key: Key): string | undefined {
    const known = this.#entries.get(path);
    return known &&
      known.size === key.size &&
      known.mtimeNs === key.mtimeNs &&
      known.ino === key.ino &&
      known.dev === key.dev
      ? known.sha256
      : undefined;
  }

  /** Reads and hashes the file on this thread, and records it under `key`. */
  async #hash(path: string, key: Key): Promise<string> {
    const hash = createHash('sha256');
    const small = key.size <= SMALL_FILE ? readSmall(path) : undefined;
    if (small) hash.update(small);
    else for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
    return this.#record(path, key, hash.digest('hex'));
  }

  #record(path: string, key: Key, sha256: string): string {
    // A literal, not `{ ...key, sha256 }`: V8 gave each spread copy a hidden class of its own
    // (~230 bytes more per file: 6 MB for a 26 000-file COPY).
    this.#entries.set(path, { size: key.size, mtimeNs: key.mtimeNs, ino: key.ino, dev: key.dev, sha256 });
    this.#dirty = true;
    this.#hashed++;
    return sha256;
  }

  /** How many files were read and hashed, and how many answered from the stat cache. */
  get stats(): { hashed: number; reused: number } {
    return { hashed: this.#hashed, reused: this.#reused };
  }

  /**
   * The cache as one JSON object (path → entry), in pieces: as one string (and an object of every
   * entry first) it was ~10 MB more at the end of a 26 000-file build, right at its memory peak.
   */
  *#json(): Generator<string> {
    const PIECE = 1024;
    let piece: string[] = [];
    let first = true;
    yield '{';
    for (const [path, entry] of this.#entries) {
      piece.push(`${first ? '' : ','}${JSON.stringify(path)}:${JSON.stringify(entry)}`);
      first = false;
      if (piece.length >= PIECE) {
        yield piece.join('');
        piece = [];
      }
    }
    yield `${piece.join('')}}`;
  }

  /** Writes the cache back (atomically) if anything changed. */
  async save(): Promise<void> {
    if (!this.#dirty) return;
    // a stat cache: lost in a crash, it is rebuilt by hashing again, so no fsync
    await writeFileAtomic(this.file, this.#json(), { durable: false });
    this.#dirty = false;
  }
}
