/**
 * A content-addressed blob store on disk: `<root>/blobs/<algorithm>/<hex>`, the same layout as an
 * OCI image layout's `blobs/` directory.
 *
 * Writes go to a uniquely named temp file in the blob's own directory, are hashed while they are
 * written (one pass), checked against the expected digest and size, fsynced, and then renamed onto
 * the final name. Rename is atomic, so a reader never sees a partial blob under its digest, and two
 * writers of the same blob — promises in one process or separate processes — both succeed: the
 * second finds the blob present and drops its temp file. Any failure removes the temp file.
 */
import { randomUUID } from 'node:crypto';
import { type FileHandle, mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { pipeline, type Readable, Transform, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { fileSystemProblem } from '../errors.js';
import { isNotFound, SyncBehind, syncDirectory } from '../fsutil/files.js';
import {
  createDigester,
  type Digest,
  type DigestAlgorithm,
  type Digester,
  digestAlgorithm,
  digestHex,
  digestOf,
  parseDigest,
} from '../oci/index.js';
import { StoreError } from './errors.js';
import { type Lease, leftByDeadProcess, liveLeases, takeLease } from './lease.js';
import { acquireLock } from './lock.js';

const ALGORITHMS: readonly DigestAlgorithm[] = ['sha256', 'sha512'];
const HEX_NAME: Readonly<Record<DigestAlgorithm, RegExp>> = {
  sha256: /^[0-9a-f]{64}$/,
  sha512: /^[0-9a-f]{128}$/,
};
/** Temp files start with this; `list()` skips them. */
export const TEMP_PREFIX = '.tmp-';
/**
 * The property `open()` sets on the streams it returns: the blob's file, digest and whether the stream
 * verifies it. Media read it back by the same registered symbol (`storedBlobOf` in image/stream.ts),
 * without importing the store: layout/ hardlinks the file, archive/ does not hash it a second time.
 */
const BLOB_FILE: unique symbol = Symbol.for('wharf.blob-file');

export interface OpenStoreOptions {
  /** The store directory; default {@link defaultStoreRoot}. Created if missing. */
  readonly root?: string;
}

/** What a stored blob is. */
export interface BlobInfo {
  readonly digest: Digest;
  readonly size: number;
}

export interface PutOptions {
  /** Fail with `STORE_DIGEST_MISMATCH` (and store nothing) unless the content has this digest. */
  readonly expected?: Digest;
  /** Fail with `STORE_SIZE_MISMATCH` (and store nothing) unless the content has this many bytes. */
  readonly size?: number;
}

export interface ReadOptions {
  /**
   * Hash while reading and fail the stream with `STORE_CORRUPT` at the end if the content does not
   * match its name. Default true.
   */
  readonly verify?: boolean;
}

/** Bytes, or a stream of chunks (a Node `Readable` is one). */
export type BlobSource = Uint8Array | AsyncIterable<Uint8Array | string> | Iterable<Uint8Array>;

/**
 * A `Writable` for producers that stream (tar → gzip → store): write or pipe into it, then
 * `commit()` to get the digest and size computed as the bytes went by. `abort()` (or destroying the
 * stream) discards what was written. A writer that is neither committed nor aborted leaves a temp file.
 */
export interface BlobWriter extends Writable {
  /** Ends the stream if needed, verifies, and moves the blob into place. Idempotent. */
  commit(): Promise<BlobInfo>;
  /** Discards the temp file. */
  abort(): Promise<void>;
  /** Bytes written so far. */
  readonly bytesWritten: number;
}

/** `$XDG_CACHE_HOME/wharf`, or `~/.cache/wharf` when that is unset or not absolute (XDG rule). */
export function defaultStoreRoot(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  return xdg && isAbsolute(xdg) ? join(xdg, 'wharf') : join(homedir(), '.cache', 'wharf');
}

/** This process's lease on each store it opened (held until it exits). */
const processLeases = new Map<string, Promise<Lease>>();

/**
 * Opens (and creates) a blob store. The process holds a lease on it until it exits, so `wharf cache
 * prune` in another process leaves it alone meanwhile (see {@link whileUnused}); temp files that
 * killed processes left are removed.
 */
export async function openStore(options: OpenStoreOptions = {}): Promise<BlobStore> {
  const store = new BlobStore(options.root ?? defaultStoreRoot());
  try {
    let lease = processLeases.get(store.root);
    if (!lease) {
      lease = takeLease(join(store.root, 'leases'), storeLock(store), {
        untilExit: true,
        prepare: async () => {
          await Promise.all(
            ALGORITHMS.map((algorithm) => mkdir(store.directory(algorithm), { recursive: true })),
          );
          await sweepTempFiles(store);
        },
      });
      processLeases.set(store.root, lease);
      lease.catch(() => processLeases.delete(store.root));
    }
    await lease;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new StoreError(
      'STORE_UNWRITABLE',
      `the cache dir ${store.root} is not a writable directory (${code})`,
      {
        hint: 'point --cache-dir (or XDG_CACHE_HOME) at a directory you can write',
        cause: error,
      },
    );
  }
  return store;
}

function storeLock(store: BlobStore): string {
  return join(store.root, '.store.lock');
}

/** Removes the temp files (`.tmp-<pid>-…`) of processes that are gone: a killed pull or build. */
async function sweepTempFiles(store: BlobStore): Promise<void> {
  for (const algorithm of ALGORITHMS) {
    const dir = store.directory(algorithm);
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (name.startsWith(TEMP_PREFIX) && leftByDeadProcess(name.slice(TEMP_PREFIX.length))) {
        await rm(join(dir, name), { force: true });
      }
    }
  }
}

/**
 * Runs `fn` (a prune) unless another live process holds a lease on the store: then it does nothing
 * and returns those pids. Under the store's lock, so no build opens the store meanwhile.
 */
export async function whileUnused<T>(
  store: BlobStore,
  fn: () => Promise<T>,
): Promise<{ readonly done: T } | { readonly inUse: readonly number[] }> {
  await mkdir(store.root, { recursive: true });
  const lock = await acquireLock(storeLock(store));
  try {
    await sweepTempFiles(store);
    const inUse = await liveLeases(join(store.root, 'leases'), { except: process.pid });
    if (inUse.length > 0) return { inUse };
    return { done: await fn() };
  } finally {
    await lock?.release();
  }
}

function notFound(digest: Digest, cause?: unknown): StoreError {
  return new StoreError('STORE_NOT_FOUND', `blob ${digest} is not in the store`, {
    hint: 'put it first (pull or build the image that contains it)',
    cause,
  });
}

function toBytes(chunk: Uint8Array | string): Uint8Array {
  return typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
}

/** Marks `stream` as the bytes of the blob `digest` in the file `file` (see {@link BLOB_FILE}). */
function withFile<T extends Readable>(stream: T, file: string, digest: Digest, verified: boolean): T {
  const corrupt = (actual: Digest) => corruptBlob(digest, file, actual);
  Object.defineProperty(stream, BLOB_FILE, { value: Object.freeze({ file, digest, verified, corrupt }) });
  return stream;
}

/** `STORE_CORRUPT`: the file kept for `digest` hashes to `actual`. */
function corruptBlob(digest: Digest, file: string, actual: Digest): StoreError {
  return new StoreError(
    'STORE_CORRUPT',
    `stored blob ${digest} is corrupt: its content hashes to ${actual}`,
    {
      hint: `delete ${file} (or call store.delete) and fetch the blob again`,
    },
  );
}

/** A temp file being filled and hashed. */
class TempBlob {
  readonly path: string;
  readonly digester: Digester;
  #handle: FileHandle | undefined;
  readonly #durable: SyncBehind;

  private constructor(path: string, handle: FileHandle, algorithm: DigestAlgorithm) {
    this.path = path;
    this.#handle = handle;
    this.#durable = new SyncBehind(handle);
    this.digester = createDigester(algorithm);
  }

  static async create(dir: string, algorithm: DigestAlgorithm): Promise<TempBlob> {
    const path = join(dir, `${TEMP_PREFIX}${process.pid}-${randomUUID()}`);
    // Read-only (0444): layouts hardlink blobs, so a stray write into a layout would change the store.
    return new TempBlob(path, await open(path, 'wx', 0o444), algorithm);
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (!this.#handle) throw new StoreError('STORE_WRITER_CLOSED', 'write after the blob was closed');
    this.digester.update(chunk);
    try {
      await this.#durable.write(chunk);
    } catch (error) {
      throw cacheWriteError(error, this.path);
    }
  }

  /** fsync and close. */
  async finish(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    if (!handle) return;
    try {
      await this.#durable.sync();
    } catch (error) {
      throw cacheWriteError(error, this.path);
    } finally {
      await handle.close();
    }
  }

  /** Close and remove; never throws. */
  async discard(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close().catch(() => {});
    await unlink(this.path).catch(() => {});
  }
}

/** A full disk (or quota, permissions, read-only) under the cache: the cache dir and the fix, not an errno. */
function cacheWriteError(error: unknown, path: string): unknown {
  const dir = dirname(dirname(dirname(path))); // <root>/blobs/<alg>/<temp>
  const problem = fileSystemProblem(error, `the cache ${dir}`);
  if (!problem) return error;
  return new StoreError('STORE_UNWRITABLE', problem.message, {
    hint: `${problem.hint}; --cache-dir puts the cache elsewhere`,
    cause: error,
  });
}

/** The blob store. Get one from {@link openStore}. */
export class BlobStore {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  /** `<root>/blobs/<algorithm>`. */
  directory(algorithm: DigestAlgorithm): string {
    return join(this.root, 'blobs', algorithm);
  }

  /** Where the blob lives (whether or not it is there). Throws on a malformed digest. */
  path(digest: Digest): string {
    const valid = parseDigest(digest); // also guards against path tricks in unchecked strings
    return join(this.directory(digestAlgorithm(valid)), digestHex(valid));
  }

  async has(digest: Digest): Promise<boolean> {
    try {
      return (await stat(this.path(digest))).isFile();
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  /** The blob's size in bytes; `STORE_NOT_FOUND` when absent. */
  async size(digest: Digest): Promise<number> {
    try {
      return (await stat(this.path(digest))).size;
    } catch (error) {
      if (isNotFound(error)) throw notFound(digest, error);
      throw error;
    }
  }

  /**
   * A stream of the blob's bytes; `STORE_NOT_FOUND` when absent. With `verify` (the default) the
   * stream fails with `STORE_CORRUPT` after the last chunk if the bytes do not hash to `digest`.
   */
  async open(digest: Digest, options: ReadOptions = {}): Promise<Readable> {
    const path = this.path(digest);
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      if (isNotFound(error)) throw notFound(digest, error);
      throw error;
    }
    // 1 MiB reads: blobs are layers of tens of MiB, and every chunk is a hash update and a stream hop.
    const raw = handle.createReadStream({ highWaterMark: 1024 * 1024 });
    if (options.verify === false) return withFile(raw, path, digest, false);
    const digester = createDigester(digestAlgorithm(digest));
    const check = new Transform({
      readableHighWaterMark: 1024 * 1024,
      writableHighWaterMark: 1024 * 1024,
      transform(chunk: Buffer, _encoding, callback) {
        digester.update(chunk);
        callback(null, chunk);
      },
      flush(callback) {
        const actual = digester.digest();
        callback(actual === digest ? null : corruptBlob(digest, path, actual));
      },
    });
    return withFile(
      pipeline(raw, check, () => {}),
      path,
      digest,
      true,
    );
  }

  /** The whole blob in memory (for manifests and configs), verified unless `verify: false`. */
  async readBytes(digest: Digest, options: ReadOptions = {}): Promise<Uint8Array> {
    const chunks: Buffer[] = [];
    for await (const chunk of await this.open(digest, options)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  /**
   * Stores `source` and returns its digest and size. `expected` is a digest or {@link PutOptions};
   * on a mismatch nothing is stored and the temp file is removed. Streams are consumed once, with
   * constant memory. Bytes whose expected digest is already stored are not written again.
   */
  async put(source: BlobSource, expected?: Digest | PutOptions): Promise<BlobInfo> {
    const options: PutOptions = typeof expected === 'string' ? { expected } : (expected ?? {});
    if (options.expected !== undefined) parseDigest(options.expected);
    if (source instanceof Uint8Array) {
      const digest = digestOf(source, options.expected ? digestAlgorithm(options.expected) : 'sha256');
      check({ digest, size: source.byteLength }, options);
      const size = await sizeIfPresent(this, digest);
      if (size === source.byteLength) return { digest, size };
    }
    const temp = await createTemp(this, options);
    try {
      if (source instanceof Uint8Array) {
        await temp.write(source);
      } else {
        for await (const chunk of source as AsyncIterable<Uint8Array | string>)
          await temp.write(toBytes(chunk));
      }
    } catch (error) {
      await temp.discard();
      throw error;
    }
    return commitTemp(this, temp, options);
  }

  /** A {@link BlobWriter} for streaming producers. */
  putWriter(options: PutOptions = {}): BlobWriter {
    if (options.expected !== undefined) parseDigest(options.expected);
    return new StoreWriter(this, options);
  }

  /** Removes the blob; false when it was not there. */
  async delete(digest: Digest): Promise<boolean> {
    try {
      await unlink(this.path(digest));
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  /** Every stored digest (temp files excluded), sorted. */
  async list(): Promise<Digest[]> {
    const out: Digest[] = [];
    for (const algorithm of ALGORITHMS) {
      let names: string[];
      try {
        names = await readdir(this.directory(algorithm));
      } catch (error) {
        if (isNotFound(error)) continue;
        throw error;
      }
      for (const name of names) {
        if (HEX_NAME[algorithm].test(name)) out.push(`${algorithm}:${name}` as Digest);
      }
    }
    return out.sort();
  }
}

/** A temp file in the blob directory for a blob with these options. */
async function createTemp(store: BlobStore, options: PutOptions): Promise<TempBlob> {
  const algorithm = options.expected ? digestAlgorithm(options.expected) : 'sha256';
  const dir = store.directory(algorithm);
  try {
    return await TempBlob.create(dir, algorithm);
  } catch (error) {
    if (!isNotFound(error)) throw error;
    await mkdir(dir, { recursive: true });
    return TempBlob.create(dir, algorithm);
  }
}

/** Verify, fsync and move a filled temp file into place; discards it on any failure. */
async function commitTemp(store: BlobStore, temp: TempBlob, options: PutOptions): Promise<BlobInfo> {
  try {
    const info: BlobInfo = { digest: temp.digester.digest(), size: temp.digester.size };
    check(info, options);
    await temp.finish();
    if ((await sizeIfPresent(store, info.digest)) === info.size) {
      // Someone stored it first (same digest, same size): keep theirs.
      await temp.discard();
    } else {
      await rename(temp.path, store.path(info.digest));
      await syncDirectory(store.directory(digestAlgorithm(info.digest)));
    }
    return info;
  } catch (error) {
    await temp.discard();
    throw error;
  }
}

function check(info: BlobInfo, options: PutOptions): void {
  if (options.expected !== undefined && info.digest !== options.expected) {
    throw new StoreError(
      'STORE_DIGEST_MISMATCH',
      `blob content does not match its expected digest: expected ${options.expected}, got ${info.digest} (${info.size} bytes)`,
      {
        hint: 'the source sent other content than its descriptor names; fetch it again or fix the descriptor',
      },
    );
  }
  if (options.size !== undefined && info.size !== options.size) {
    throw new StoreError(
      'STORE_SIZE_MISMATCH',
      `blob ${info.digest} has ${info.size} bytes, expected ${options.size}`,
      {
        hint: 'the source sent other content than its descriptor describes; fetch it again or fix the descriptor',
      },
    );
  }
}

async function sizeIfPresent(store: BlobStore, digest: Digest): Promise<number | undefined> {
  try {
    return (await stat(store.path(digest))).size;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

class StoreWriter extends Writable implements BlobWriter {
  readonly #store: BlobStore;
  readonly #options: PutOptions;
  readonly #temp: Promise<TempBlob>;
  #result: Promise<BlobInfo> | undefined;
  #committing = false;
  #written = 0;

  constructor(store: BlobStore, options: PutOptions) {
    // autoDestroy off: 'finish' must not discard the temp file before commit() moves it.
    super({ autoDestroy: false, decodeStrings: true });
    this.#store = store;
    this.#options = options;
    this.#temp = createTemp(store, options);
    this.#temp.catch(() => {}); // surfaced by the first write or by commit()
  }

  get bytesWritten(): number {
    return this.#written;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#temp
      .then((temp) => temp.write(chunk))
      .then(
        () => {
          this.#written += chunk.byteLength;
          callback();
        },
        (error: Error) => {
          callback(error);
          // autoDestroy is off, so a failed write would otherwise keep its temp file.
          this.destroy();
        },
      );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.#committing) {
      callback(error);
      return;
    }
    this.#temp
      .then((temp) => temp.discard())
      .catch(() => {})
      .then(() => callback(error));
  }

  commit(): Promise<BlobInfo> {
    this.#result ??= this.#commit();
    return this.#result;
  }

  async #commit(): Promise<BlobInfo> {
    if (this.destroyed) {
      throw new StoreError('STORE_WRITER_CLOSED', 'cannot commit a blob writer that was aborted or failed', {
        hint: 'start a new putWriter()',
        cause: this.errored ?? undefined,
      });
    }
    let temp: TempBlob;
    try {
      if (!this.writableEnded) this.end();
      await finished(this);
      temp = await this.#temp;
    } catch (error) {
      this.destroy(); // discards the temp file
      throw error;
    }
    this.#committing = true;
    try {
      return await commitTemp(this.#store, temp, this.#options);
    } finally {
      this.destroy();
    }
  }

  async abort(): Promise<void> {
    if (this.#committing) return;
    if (!this.destroyed) this.destroy();
    await this.#temp.then((temp) => temp.discard()).catch(() => {});
  }
}
