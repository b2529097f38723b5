/**
 * Content digests of context files with a stat cache: a file whose path, size, mtime, inode and device
 * are unchanged since it was last hashed is not read again. The cache is a hint, never the truth about
 * content that ends up in a layer: the layer writer reads and hashes the bytes it writes.
 *
 * On disk it is a text log, one line per file — `path TAB size TAB mtimeNs TAB ino TAB dev TAB sha256`
 * under a version line — read in one pass without a JSON object of every file (a 26 000-file context's
 * JSON took ~0.3 s to parse and 8 MB of objects). A build appends the files it hashed (a one-file change
 * writes one line, not the whole cache again); later lines win, and the log is rewritten whole once it
 * holds as many stale lines as live ones. A path with a tab or newline (or starting with `"`) is written
 * as a JSON string; a torn or malformed line is skipped. The old JSON cache is read once and replaced.
 */
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { writeFileAtomic } from '../fsutil/files.js';
import { hashFiles } from './hash-pool.js';

/** Files up to this size are read with one call. */
const SMALL_FILE = 1024 * 1024;

/** The log's first line; a file without it (an older JSON cache) is read as that. */
const HEADER = 'wharf file digests v2\n';

/** A line's fields after the path: size, mtime (ns), inode, device — the identity — then the sha256. */
const RECORD = /^\d+\t\d+\t\d+\t\d+\t[0-9a-f]{64}$/;

/** Length of a hex sha256 and the tab before it, at the end of every record. */
const SHA_TAIL = 65;

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

/** sha256 (hex) of the file's bytes: small files (by their lstat size) in one read, others streamed. */
async function sha256Of(path: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  const small = size <= SMALL_FILE ? readSmall(path) : undefined;
  if (small) hash.update(small);
  else for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** What the stat cache compares: an lstat (bigint) of the file, or the same fields from a listing. */
export interface FileIdentity {
  readonly size: number | bigint;
  readonly mtimeNs: bigint;
  readonly ino: bigint;
  readonly dev: bigint;
}

/** Up to this many files and bytes, hashing them costs less than reading a big log first. */
const DIRECT_MAX_FILES = 128;
const DIRECT_MAX_BYTES = 2 * 1024 * 1024;

/** Below this many files and bytes to hash, worker threads cost more than they save. */
const POOL_MIN_FILES = 64;
const POOL_MIN_BYTES = 16 * 1024 * 1024;

/** A file's identity as the log spells it (`size TAB mtimeNs TAB ino TAB dev`), and its size. */
interface Key {
  readonly identity: string;
  readonly size: number;
}

/** The stat-cache key of `path`: from the caller's lstat when given, else from a stat now. */
function keyOf(path: string, stat?: FileIdentity): Key {
  // The caller's lstat of a moment ago (a context listing) saves a second stat per file.
  const info = stat ?? statSync(path, { bigint: true });
  const size = Number(info.size);
  // join, not a template: one flat string (a template made a tree of five, ~200 bytes more per file)
  return { identity: [size, info.mtimeNs, info.ino, info.dev].join('\t'), size };
}

/** A path as the log writes it: raw, unless a tab, newline or leading quote would make it ambiguous. */
function pathField(path: string): string {
  return /[\t\n\r]/.test(path) || path.startsWith('"') ? JSON.stringify(path) : path;
}

/** One log line (with its newline) for `path` and its record. */
function line(path: string, record: string): string {
  return `${pathField(path)}\t${record}\n`;
}

export class FileDigests {
  /** Path → `identity TAB sha256` (one string per file: objects of five fields cost ~3× the memory). */
  #entries = new Map<string, string>();
  /** Lines recorded since the last save, to append (none kept while the log is to be written whole). */
  #fresh: string[] = [];
  /** Lines in the log on disk (live and stale), or -1 when it must be written whole (new, old format). */
  #lines = -1;
  /** Something changed since the last save. */
  #dirty = false;
  #hashed = 0;
  #reused = 0;

  /** Whether the log was read: on first use, since a build whose COPYs all replay never asks. */
  #loaded = false;

  private constructor(private readonly file: string) {}

  /**
   * The stat cache kept in `file` (started when there is none). The log is read when first asked
   * (synchronously: the asking step waits for it either way), so a build with nothing to look up —
   * a no-change rebuild, whose context COPYs replay (engine/steps/copy-replay.ts) — never parses it.
   */
  static async open(file: string): Promise<FileDigests> {
    return new FileDigests(file);
  }

  #load(): void {
    if (this.#loaded) return;
    this.#loaded = true;
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      return; // no cache yet, or an unreadable one: start empty
    }
    if (text.startsWith(HEADER)) this.#parse(text);
    else this.#parseJson(text);
  }

  /** Reads the log: later lines win, malformed ones (a torn append) are skipped. */
  #parse(text: string): void {
    let lines = 0;
    let at = HEADER.length;
    while (at < text.length) {
      const end = text.indexOf('\n', at);
      if (end < 0) break; // an append cut short (a crash): its line has no end
      lines++;
      const row = text.slice(at, end);
      at = end + 1;
      let path: string;
      let rest: number;
      if (row.startsWith('"')) {
        const close = row.indexOf('"\t', 1); // a JSON string with an escaped tab holds no raw `"<TAB>`
        try {
          path = JSON.parse(row.slice(0, close + 1)) as string;
        } catch {
          continue;
        }
        rest = close + 2;
      } else {
        const tab = row.indexOf('\t');
        if (tab <= 0) continue;
        path = row.slice(0, tab);
        rest = tab + 1;
      }
      const record = row.slice(rest);
      // A whole line of a well-formed log: the shape is enough (a full RECORD test cost ~40 % of the read).
      if (record.length > SHA_TAIL && record.charCodeAt(record.length - SHA_TAIL) === 9) {
        this.#entries.set(path, record);
      }
    }
    this.#lines = lines;
  }

  /** The JSON object of earlier versions (path → entry), read once; the next save writes the log. */
  #parseJson(text: string): void {
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof data !== 'object' || data === null) return;
    for (const [path, entry] of Object.entries(data as Record<string, Partial<Record<string, unknown>>>)) {
      const record = `${entry?.size}\t${entry?.mtimeNs}\t${entry?.ino}\t${entry?.dev}\t${entry?.sha256}`;
      if (RECORD.test(record)) this.#entries.set(path, record);
    }
    this.#dirty = this.#entries.size > 0; // the log replaces the JSON at the next save
  }

  /**
   * sha256 (hex) of the file's content. The stat and small reads are synchronous: a COPY asks for
   * thousands of files one after another, and a thread-pool round trip each cost more than the calls.
   */
  async digest(path: string, stat?: FileIdentity): Promise<string> {
    this.#load();
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
    // a few files, keyed once: hashed at once when small, else looked up with these keys
    let keys: Key[] | undefined;
    if (!this.#loaded && files.length <= DIRECT_MAX_FILES) {
      keys = files.map(({ path, stat }) => keyOf(path, stat));
      if (keys.reduce((sum, key) => sum + key.size, 0) <= DIRECT_MAX_BYTES) {
        return this.#hashUnrecorded(files, keys);
      }
    }
    this.#load();
    const out = new Array<string>(files.length);
    const misses: { index: number; path: string; size: number; key: Key }[] = [];
    let missBytes = 0;
    for (let index = 0; index < files.length; index++) {
      const { path, stat } = files[index] as { path: string; stat?: FileIdentity };
      const key = keys?.[index] ?? keyOf(path, stat);
      const known = this.#known(path, key);
      if (known !== undefined) out[index] = known;
      else {
        misses.push({ index, path, size: key.size, key });
        missBytes += key.size;
      }
    }
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
   * A few small files, hashed here without the log: reading a big context's log (26 000 lines, ~35 ms)
   * costs more than reading them, as in the COPY of a one-file change whose other COPYs replayed.
   * Nothing is recorded (the log is not read, so not appended to). `keys`: each file's, in order.
   */
  async #hashUnrecorded(
    files: readonly { readonly path: string }[],
    keys: readonly Key[],
  ): Promise<string[]> {
    const out: string[] = [];
    for (const [i, { path }] of files.entries()) {
      out.push(await sha256Of(path, (keys[i] as Key).size));
      this.#hashed++;
    }
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
    this.#load();
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
    // Unread, the log is not read for this: it is unread only when every file this build keyed was
    // hashed directly (a few small ones, digestMany), and those are hashed directly again next time.
    // Reading it cost ~45 ms of a one-file change; appending would add every file of such a COPY
    // whose layer is written again, each time.
    if (!this.#loaded) return;
    const key = keyOf(path, stat);
    if (this.#lookup(path, key) !== sha256) this.#record(path, key, sha256);
  }

  #known(path: string, key: Key): string | undefined {
    const sha256 = this.#lookup(path, key);
    if (sha256 !== undefined) this.#reused++;
    return sha256;
  }

  #lookup(path: string, key: Key): string | undefined {
    const record = this.#entries.get(path);
    const { identity } = key;
    return record !== undefined &&
      record.length === identity.length + SHA_TAIL &&
      record.charCodeAt(identity.length) === 9 &&
      record.startsWith(identity)
      ? record.slice(identity.length + 1)
      : undefined;
  }

  /** Reads and hashes the file on this thread, and records it under `key`. */
  async #hash(path: string, key: Key): Promise<string> {
    return this.#record(path, key, await sha256Of(path, key.size));
  }

  #record(path: string, key: Key, sha256: string): string {
    const record = [key.identity, sha256].join('\t');
    this.#entries.set(path, record);
    this.#dirty = true;
    if (this.#lines >= 0) {
      this.#fresh.push(line(path, record));
      // Half the log stale after this save: it is written whole instead (and no lines are kept for it).
      if (this.#lines + this.#fresh.length > 2 * this.#entries.size + 64) {
        this.#lines = -1;
        this.#fresh = [];
      }
    }
    this.#hashed++;
    return sha256;
  }

  /** How many files were read and hashed, and how many answered from the stat cache. */
  get stats(): { hashed: number; reused: number } {
    return { hashed: this.#hashed, reused: this.#reused };
  }

  /** The whole log, in pieces (as one string it was ~10 MB more at a 26 000-file build's memory peak). */
  *#log(): Generator<string> {
    const PIECE = 1024;
    let piece: string[] = [HEADER];
    for (const [path, record] of this.#entries) {
      piece.push(line(path, record));
      if (piece.length >= PIECE) {
        yield piece.join('');
        piece = [];
      }
    }
    yield piece.join('');
  }

  /**
   * Writes what changed: the files hashed since the last save appended to the log, or the log
   * rewritten whole (atomically) when it is new, of the old format, or half stale.
   */
  async save(): Promise<void> {
    if (!this.#dirty) return;
    this.#dirty = false;
    // a stat cache: lost in a crash, it is rebuilt by hashing again, so no fsync
    if (this.#lines >= 0) {
      const fresh = this.#fresh;
      this.#fresh = [];
      // One write with O_APPEND: lines of builds appending at once do not interleave.
      await appendFile(this.file, fresh.join(''));
      this.#lines += fresh.length;
      return;
    }
    await writeFileAtomic(this.file, this.#log(), { durable: false });
    this.#lines = this.#entries.size;
  }
}
