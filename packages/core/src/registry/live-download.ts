/**
 * A blob download that readers can follow as it arrives (`startPull`: a build extracts a base layer
 * while it is still coming in), instead of waiting for the whole blob to be in the store.
 *
 * The download hands each chunk with its position *within the current attempt* ({@link LiveDownload.write});
 * attempts restart at 0 on a retry or a mirror fallback. A follower is a `Readable` that has been given
 * `delivered` bytes; a chunk gives it only what lies beyond, so a retried byte is never delivered twice.
 * A follower ends only after the store verified the blob ({@link LiveDownload.complete}), and only if
 * the bytes it was given are the verified ones: bytes first seen in an attempt that later broke are
 * hashed, so a registry that sent different bytes the second time fails the reader rather than ending
 * it cleanly. A failed download destroys followers with the download's error.
 *
 * Memory: one follower buffer (`highWaterMark`, 1 MiB) per follower, plus a replay prefix (from offset
 * 0, at most `replayLimit`, 8 MiB) for a reader that arrives late; past the limit the prefix is dropped
 * and a late reader gets `undefined` from {@link LiveDownload.follow} (it waits for the store, as before).
 *
 * A follower whose buffer is full holds the download back — for at most `stallMs` (2 s) at a time: one
 * that does not read within that is detached (it gets no more live chunks, and when the download is in
 * the store it goes on from the stored blob at `delivered`). So a reader that waits for something that
 * waits for the download cannot deadlock it, and the connection's idle timeout never fires because of
 * a reader.
 */

import { Readable } from 'node:stream';
import { createDigester, type Digest, type Digester, digestAlgorithm } from '../oci/index.js';
import { RegistryError } from './errors.js';

export interface LiveDownloadOptions {
  /** The blob's digest: bytes delivered from an interrupted attempt are checked against it. */
  readonly digest: Digest;
  /** Opens the stored blob once the download is in (for followers that fell behind or came late). */
  readonly openStored: () => Promise<Readable>;
  /** Bytes kept from offset 0 for followers that arrive late. Default 8 MiB. */
  readonly replayLimit?: number;
  /** A follower's buffer. Default 1 MiB. */
  readonly highWaterMark?: number;
  /** How long the download waits for a follower with a full buffer before detaching it. Default 2 s. */
  readonly stallMs?: number;
}

const MiB = 1024 * 1024;

/** A reader of a {@link LiveDownload}. */
class Follower extends Readable {
  /** Bytes pushed so far (the next byte it wants is at this offset). */
  delivered = 0;
  /** Called by `_read` and `_destroy`: the download (or the store copy) may push again. */
  #wake: (() => void) | undefined;
  #onDestroy: (follower: Follower) => void;
  /** The failure to raise once someone reads. */
  #error: Error | undefined;
  /** Bytes given but not pushed yet: they go out in blocks of the high-water mark. */
  #pending: Buffer[] = [];
  #pendingBytes = 0;

  constructor(highWaterMark: number, onDestroy: (follower: Follower) => void) {
    super({ highWaterMark });
    this.#onDestroy = onDestroy;
  }

  override _read(): void {
    if (this.#error) return void this.destroy(this.#error);
    this.#wakeUp();
  }

  /**
   * Adds bytes (counted in `delivered` by the caller), pushed in blocks of the high-water mark: a
   * reader's pipeline (gunzip, tar) pays per chunk, and the network's chunks are small. False when
   * the buffer is full.
   */
  give(chunk: Buffer): boolean {
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.byteLength;
    return this.#pendingBytes >= this.readableHighWaterMark ? this.flush() : true;
  }

  /** Pushes what {@link give} held back. False when the buffer is full. */
  flush(): boolean {
    if (this.#pendingBytes === 0 || this.destroyed) return true;
    const block =
      this.#pending.length === 1
        ? (this.#pending[0] as Buffer)
        : Buffer.concat(this.#pending, this.#pendingBytes);
    this.#pending = [];
    this.#pendingBytes = 0;
    return this.push(block);
  }

  /**
   * Fails the stream: at once when someone listens for its errors, else once someone starts reading
   * it — a stream opened but not read yet raises no 'error' nobody listens for (nor does a store stream).
   */
  fail(error: Error): void {
    if (this.destroyed || this.#error) return;
    this.#pending = [];
    this.#pendingBytes = 0;
    if (this.listenerCount('error') > 0) return void this.destroy(error);
    this.#error = error;
    const onListener = (event: string | symbol) => {
      if (event !== 'error' && event !== 'data' && event !== 'readable') return;
      this.off('newListener', onListener);
      process.nextTick(() => this.destroy(error));
    };
    this.on('newListener', onListener);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#onDestroy(this);
    this.#wakeUp();
    callback(error);
  }

  /** Resolves when the consumer wants more (or the follower is gone); false after `timeoutMs`. */
  room(timeoutMs?: number): Promise<boolean> {
    if (this.destroyed) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              this.#wake = undefined;
              resolve(false);
            }, timeoutMs);
      this.#wake = () => {
        if (timer) clearTimeout(timer);
        resolve(true);
      };
    });
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

/** One in-flight download of a blob that readers follow; see the module comment. */
export class LiveDownload {
  readonly #options: LiveDownloadOptions;
  readonly #replayLimit: number;
  readonly #highWaterMark: number;
  readonly #stallMs: number;
  #state: 'running' | 'done' | 'failed' = 'running';
  /** Bytes from offset 0 seen so far (across attempts: the furthest any attempt got). */
  #received = 0;
  /** The first `#received` bytes, while they fit under the replay limit. */
  #prefix: Buffer[] | undefined = [];
  #prefixBytes = 0;
  /**
   * Hashes the bytes as first received (what followers were given), while a follower may be given
   * them: from the start, until the prefix is dropped with no follower ever attached.
   */
  #seen: Digester | undefined;
  #followed = false;
  /** Followers getting live chunks. */
  readonly #attached = new Set<Follower>();
  /** Followers that did not read in time: they go on from the store when the download is in. */
  readonly #detached = new Set<Follower>();

  constructor(options: LiveDownloadOptions) {
    this.#options = options;
    this.#replayLimit = options.replayLimit ?? 8 * MiB;
    this.#highWaterMark = options.highWaterMark ?? MiB;
    this.#stallMs = options.stallMs ?? 2_000;
    this.#seen = createDigester(digestAlgorithm(options.digest));
  }

  /**
   * A reader from offset 0, or undefined when the download went past the replay limit before this
   * reader came (read the store once the download is in). After the download ended: undefined too.
   */
  follow(): Readable | undefined {
    if (this.#state !== 'running' || !this.#prefix) return undefined;
    const follower = new Follower(this.#highWaterMark, (f) => {
      this.#attached.delete(f);
      this.#detached.delete(f);
    });
    this.#followed = true;
    for (const chunk of this.#prefix) follower.give(chunk); // at most the replay limit: buffered beyond the mark
    follower.flush();
    follower.delivered = this.#received;
    this.#attached.add(follower);
    return follower;
  }

  /**
   * The download's next chunk, at `position` within the current attempt. Resolves when every
   * follower that got part of it has room again, or after `stallMs` (that follower is detached).
   */
  async write(chunk: Buffer, position: number): Promise<void> {
    if (this.#state !== 'running') return;
    const end = position + chunk.byteLength;
    if (position > this.#received) {
      // A gap cannot happen (attempts start at 0 and are contiguous); if it did, stop following live.
      this.#dropPrefix();
      this.#seen = undefined;
      for (const follower of this.#attached) this.#detach(follower);
      return;
    }
    if (end > this.#received) {
      const fresh = chunk.subarray(this.#received - position);
      this.#seen?.update(fresh);
      if (this.#prefix && this.#prefixBytes + fresh.byteLength <= this.#replayLimit) {
        this.#prefix.push(fresh);
        this.#prefixBytes += fresh.byteLength;
      } else this.#dropPrefix();
      this.#received = end;
    }
    const waits: Promise<void>[] = [];
    for (const follower of this.#attached) {
      if (follower.delivered >= end) continue;
      const part = chunk.subarray(follower.delivered - position);
      follower.delivered = end;
      if (!follower.give(part)) waits.push(this.#awaitRoom(follower));
    }
    await Promise.all(waits);
  }

  /**
   * The download is in the store, verified, `size` bytes. Followers that have every byte end; the
   * others go on from the stored blob; a follower given bytes that are not the stored ones fails.
   */
  complete(size: number): void {
    if (this.#state !== 'running') return;
    this.#state = 'done';
    const seen = this.#seen?.digest();
    this.#dropPrefix();
    const trusted = this.#received === size && seen === this.#options.digest;
    for (const follower of [...this.#attached, ...this.#detached]) {
      this.#attached.delete(follower);
      this.#detached.delete(follower);
      if (follower.delivered > 0 && !trusted) {
        follower.fail(
          new RegistryError(
            'REGISTRY_DIGEST_MISMATCH',
            `blob ${this.#options.digest}: an interrupted download attempt sent bytes that the completed one did not`,
            { hint: 'the registry or a proxy sent corrupt content; try again' },
          ),
        );
      } else if (follower.delivered === size) {
        follower.flush();
        follower.push(null);
      } else void this.#fromStore(follower);
    }
  }

  /** The download failed for good: every follower fails with `error`. */
  fail(error: unknown): void {
    if (this.#state !== 'running') return;
    this.#state = 'failed';
    this.#dropPrefix();
    this.#seen = undefined;
    for (const follower of [...this.#attached, ...this.#detached]) {
      this.#attached.delete(follower);
      this.#detached.delete(follower);
      follower.fail(error instanceof Error ? error : new Error(String(error)));
    }
  }

  #dropPrefix(): void {
    this.#prefix = undefined;
    this.#prefixBytes = 0;
    if (!this.#followed) this.#seen = undefined; // no follower can come any more
  }

  async #awaitRoom(follower: Follower): Promise<void> {
    if (!(await follower.room(this.#stallMs)) && this.#attached.has(follower)) this.#detach(follower);
  }

  #detach(follower: Follower): void {
    this.#attached.delete(follower);
    this.#detached.add(follower);
  }

  /** Goes on from the stored blob at the follower's `delivered` offset. */
  async #fromStore(follower: Follower): Promise<void> {
    let source: Readable | undefined;
    try {
      source = await this.#options.openStored();
      if (!follower.flush()) await follower.room();
      let skip = follower.delivered;
      for await (const chunk of source as AsyncIterable<Buffer>) {
        if (follower.destroyed) break;
        if (skip >= chunk.byteLength) {
          skip -= chunk.byteLength;
          continue;
        }
        const part = skip > 0 ? chunk.subarray(skip) : chunk;
        skip = 0;
        follower.delivered += part.byteLength;
        if (!follower.push(part)) await follower.room();
      }
      if (!follower.destroyed) follower.push(null);
    } catch (error) {
      follower.fail(error as Error);
    } finally {
      source?.destroy();
    }
  }
}
