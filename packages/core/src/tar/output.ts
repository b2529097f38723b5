/**
 * A tar being assembled in chunks of about {@link CHUNK} bytes: headers are encoded straight into the
 * chunk and small contents copied (or read) after them, so a writer makes a few large writes instead of
 * a stream hop per member. Pure: buffers only; the writers in layer/ and archive/ bring the bytes.
 */
import { type TarHeader, writeHeader } from './header.js';

/** Output chunks are about this size. */
export const CHUNK = 1024 * 1024;

/**
 * Output buffers a writer has finished with, for the next chunks (a file writer cycles through three
 * instead of allocating one per MiB). Each chunk starts its own buffer: `allocUnsafe` pools only
 * buffers under 4 KiB.
 */
export class BufferPool {
  readonly #free: Buffer[] = [];

  get(size: number): Buffer {
    const free = this.#free.pop();
    return free && free.byteLength >= size ? free : Buffer.allocUnsafe(size);
  }

  /** `chunk` (a chunk handed out by {@link TarOutput}) is written: its buffer may be filled again. */
  release(chunk: Buffer): void {
    if (this.#free.length < 2) this.#free.push(Buffer.from(chunk.buffer, 0, chunk.buffer.byteLength));
  }
}

/**
 * The chunk being filled. With a pool, buffers come from it (the consumer releases each chunk into
 * it once written); without one, every chunk is a new buffer, which a stream consumer may keep.
 */
export class TarOutput {
  readonly #pool: BufferPool | undefined;
  #buf: Buffer;
  used = 0;

  constructor(pool: BufferPool | undefined) {
    this.#pool = pool;
    this.#buf = this.#allocate(CHUNK);
  }

  get room(): number {
    return this.#buf.byteLength - this.used;
  }

  #allocate(need: number): Buffer {
    const size = Math.max(CHUNK, need);
    return this.#pool ? this.#pool.get(size) : Buffer.allocUnsafe(size);
  }

  /** Hands out the filled part of the chunk, if any, when fewer than `need` bytes are left. */
  *reserve(need: number): Generator<Buffer> {
    if (this.room >= need) return;
    if (this.used > 0) yield this.take(need);
    else this.#buf = this.#allocate(need); // a PAX header longer than a chunk
  }

  /** The filled part of the chunk; the next chunk has room for at least `need` bytes. */
  take(need = 0): Buffer {
    const full = this.#buf.subarray(0, this.used);
    this.#buf = this.#allocate(need);
    this.used = 0;
    return full;
  }

  /** Encodes `header` (the caller made room for it). */
  header(header: TarHeader, length: number): void {
    this.#buf.fill(0, this.used, this.used + length);
    this.used += writeHeader(header, this.#buf, this.used);
  }

  /** Lets `write` put exactly `count` bytes at the end of the chunk (the caller made room for them). */
  fillWith(count: number, write: (buf: Buffer, offset: number) => void): void {
    write(this.#buf, this.used);
    this.used += count;
  }

  /**
   * Reads `size` bytes of a source straight into the chunks, handing out each chunk it fills: `read`
   * puts at most `length` bytes (those at `position` of the source) into `buf` at `offset` and resolves
   * to how many it put, 0 at the source's end. Returns how many were read: less than `size` only when
   * the source ended first.
   */
  async *readFrom(
    size: number,
    read: (buf: Buffer, offset: number, length: number, position: number) => Promise<number>,
  ): AsyncGenerator<Buffer, number> {
    let done = 0;
    while (done < size) {
      if (this.room === 0) yield this.take();
      const length = Math.min(this.room, size - done);
      const n = await read(this.#buf, this.used, length, done);
      if (n > length) throw new RangeError(`read ${n} bytes into room for ${length}`);
      if (n === 0) break;
      this.used += n;
      done += n;
    }
    return done;
  }

  /** Copies `bytes` in, handing out each chunk it fills. */
  *copy(bytes: Uint8Array): Generator<Buffer> {
    let offset = 0;
    while (offset < bytes.byteLength) {
      if (this.room === 0) yield this.take();
      const n = Math.min(this.room, bytes.byteLength - offset);
      this.#buf.set(n === bytes.byteLength ? bytes : bytes.subarray(offset, offset + n), this.used);
      this.used += n;
      offset += n;
    }
  }

  /** Appends `count` zero bytes, handing out each chunk it fills. */
  *zeros(count: number): Generator<Buffer> {
    let left = count;
    while (left > 0) {
      if (this.room === 0) yield this.take();
      const n = Math.min(this.room, left);
      this.#buf.fill(0, this.used, this.used + n);
      this.used += n;
      left -= n;
    }
  }
}
