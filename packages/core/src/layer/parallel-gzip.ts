/**
 * gzip spread over all cores inside one stream, pigz's method: the input is cut into fixed blocks,
 * each block is raw-deflated on its own in libuv's thread pool, primed with the 32 KiB of input before
 * it as the dictionary (so matches reach back across the cut as they would in one stream), and ended
 * with a sync flush so the pieces join on byte boundaries into one deflate stream. The last block ends
 * the stream; the CRC-32 runs over the input in order on the main thread.
 *
 * A block of a longer input whose bytes look random (already compressed or encrypted data: a .gz,
 * .xz or .zst file, a tarball fetched by a RUN, random test data) is written as deflate's stored blocks
 * instead ({@link looksIncompressible}, {@link storedBlocks}): deflate spends ~2 s of a core per 64 MB
 * of such data to make it bigger, where storing costs a copy.
 *
 * The output depends only on the input, the level, the block size and the rule for random blocks
 * ({@link GZIP_BLOCKS_SCHEME}): the same tar gives the same digest whatever the core count or
 * chunking. An input of at most one block gives exactly the bytes of Node's `createGzip` (one deflate
 * call with Z_FINISH), so small layers keep their digests.
 *
 * @example
 * await pipeline(createReadStream('layer.tar'), createParallelGzip(), createWriteStream('layer.tar.gz'));
 */
import { availableParallelism } from 'node:os';
import { Transform, type TransformCallback } from 'node:stream';
import { constants, crc32, deflateRaw } from 'node:zlib';
import { Semaphore } from '../fsutil/limit.js';

/** Input per block. Part of what makes the bytes (and so the digest) of inputs bigger than one block. */
export const GZIP_BLOCK_SIZE = 1024 * 1024;
/**
 * How the bytes are made, for the records that name a compressed form by its scheme
 * (`engine/compress.ts`): another block size or block rule gives other bytes for the same tar.
 */
export const GZIP_BLOCKS_SCHEME = `blocks-${GZIP_BLOCK_SIZE}-stored-entropy`;
/** deflate's window: the dictionary each block gets from the input before it. */
const WINDOW = 32 * 1024;
/** Output buffer size of each deflate call; does not change the bytes at levels 1–9 (see deflateBlock). */
const OUTPUT_CHUNK = 256 * 1024;
/** Node's gzip header: mtime 0, no name, XFL 0 (levels 2–8), OS 3 (Unix), as zlib writes it. */
const OS_UNIX = 3;

export interface ParallelGzipOptions {
  /** gzip level 1–9; default 6. */
  readonly level?: number;
  /** Input bytes per block; default {@link GZIP_BLOCK_SIZE}. Changing it changes the output. */
  readonly blockSize?: number;
}

/** Blocks being deflated at once, across every stream in the process: one per core. */
const slots = new Semaphore(Math.max(2, availableParallelism()));

function gzipHeader(level: number): Buffer {
  const xfl = level === 9 ? 2 : level === 1 ? 4 : 0;
  return Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, OS_UNIX]);
}

/**
 * Every how many bytes a block is sampled for {@link looksIncompressible}: prime to 8, so the samples
 * go through every byte of 2-, 4- and 8-byte numbers (a stride of 8 read one byte of each int64 of a
 * counter array, and took it for random).
 */
const SAMPLE_STRIDE = 7;
/** Fewer samples than this say too little (the entropy estimate is biased low): deflate as usual. */
const MIN_SAMPLES = 8192;
/**
 * Sampled entropy (bits per byte, corrected for the sample's size) from which a block is stored.
 * Random bytes measure 8.000 ± 0.001; a jar (zip) 7.96–7.99, and deflate still saves 1–8 % of it, so
 * it stays deflated.
 */
const RANDOM_BITS = 7.995;
/** Below this on the block's first {@link MIN_SAMPLES} samples, the rest need not be looked at. */
const CLEARLY_COMPRESSIBLE_BITS = 7.9;
const byteCounts = new Uint32Array(256);

/**
 * Whether `block` looks incompressible: the byte entropy of every 7th byte is within a hair of 8 bits.
 * A function of the block alone, so the output stays a function of the input. deflate gains nothing on
 * such bytes (its literals cannot beat their entropy, and random data has no repeats), so the block is
 * stored. Text and code are told by their first 56 KiB (~0.02 ms); a random-looking start is checked
 * over the whole block (~0.4 ms per MiB).
 */
export function looksIncompressible(block: Uint8Array): boolean {
  const quick = MIN_SAMPLES * SAMPLE_STRIDE;
  if (block.length < quick) return false;
  if (sampledBits(block, quick) < CLEARLY_COMPRESSIBLE_BITS) return false;
  return sampledBits(block, block.length) >= RANDOM_BITS;
}

/** The entropy (bits per byte) of every 7th byte of `block` before `end`, corrected for the sample size. */
function sampledBits(block: Uint8Array, end: number): number {
  byteCounts.fill(0);
  let samples = 0;
  for (let i = 0; i < end; i += SAMPLE_STRIDE) {
    const byte = block[i] as number;
    byteCounts[byte] = (byteCounts[byte] as number) + 1;
    samples++;
  }
  let bits = 0;
  let seen = 0;
  for (const count of byteCounts) {
    if (count === 0) continue;
    seen++;
    const p = count / samples;
    bits -= p * Math.log2(p);
  }
  // Miller–Madow: a sample's entropy is low by (values seen - 1) / 2N nats; corrected, one threshold
  // holds for a short last block as for a full one.
  return bits + (seen - 1) / (2 * samples * Math.LN2);
}

/** Longest stored block deflate allows (its LEN field is 16 bits). */
const STORED_MAX = 65535;

/**
 * `block` as deflate stored blocks of {@link STORED_MAX} bytes (the last one shorter), the final one
 * marked last when `last`: each a header byte, LEN and its complement, then the bytes as they are.
 * Written here, not by zlib at level 0, whose block lengths follow its output buffer size: the bytes
 * are fixed by the format alone. Every piece of the stream starts on a byte boundary (a sync flush ends
 * the deflated ones), so stored blocks join them as they are.
 */
export function storedBlocks(block: Uint8Array, last: boolean): Buffer {
  const count = Math.max(1, Math.ceil(block.length / STORED_MAX));
  const out = Buffer.allocUnsafe(block.length + 5 * count);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const start = i * STORED_MAX;
    const length = Math.min(STORED_MAX, block.length - start);
    out[at] = last && i === count - 1 ? 1 : 0; // BFINAL, BTYPE 00 (stored), padding to the byte
    out.writeUInt16LE(length, at + 1);
    out.writeUInt16LE(length ^ 0xffff, at + 3);
    out.set(block.subarray(start, start + length), at + 5);
    at += 5 + length;
  }
  return out;
}

function deflateBlock(
  block: Buffer,
  dictionary: Buffer | undefined,
  level: number,
  last: boolean,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    deflateRaw(
      block,
      {
        level,
        ...(dictionary ? { dictionary } : {}),
        finishFlush: last ? constants.Z_FINISH : constants.Z_SYNC_FLUSH,
        // zlib allocates output buffers of this size and copies them into the result: a quarter of a
        // block holds a typical block's output in one (a block-sized one was 1 MiB of garbage per MiB).
        chunkSize: OUTPUT_CHUNK,
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
  });
}

/** A Transform that gzips what is written to it, deflating blocks concurrently (see the module doc). */
export function createParallelGzip(options: ParallelGzipOptions = {}): Transform {
  const level = options.level ?? 6;
  const blockSize = options.blockSize ?? GZIP_BLOCK_SIZE;
  if (!Number.isInteger(level) || level < 1 || level > 9)
    throw new RangeError(`gzip level ${level} is not 1–9`);
  if (!Number.isInteger(blockSize) || blockSize < WINDOW)
    throw new RangeError(`gzip block size ${blockSize} < ${WINDOW}`);

  // Full blocks are reused once deflated and used as the next block's dictionary (zlib copies it when
  // that block's deflate starts): a fresh block per MiB of input left as much garbage as the input.
  const spare: Buffer[] = [];
  let block: Buffer = Buffer.allocUnsafe(blockSize);
  let filled = 0;
  let previous: { block: Buffer; deflated: Promise<Buffer> } | undefined; // the last full block
  let crc = 0;
  let total = 0;
  // Blocks in flight, oldest first; each settles to its deflated bytes.
  const pending: Promise<Buffer>[] = [];

  const dispatch = async (stream: Transform, input: Buffer, last: boolean): Promise<void> => {
    // One block alone keeps createGzip's bytes; a block of a longer input may be stored, here and at
    // once: it needs no place in the thread pool.
    let deflated: Promise<Buffer>;
    if ((previous !== undefined || !last) && looksIncompressible(input)) {
      deflated = Promise.resolve(storedBlocks(input, last));
    } else {
      await slots.acquire();
      const dictionary = previous?.block.subarray(previous.block.length - WINDOW);
      deflated = deflateBlock(input, dictionary, level, last).finally(() => slots.release());
    }
    deflated.catch(() => {}); // awaited in order below; this only keeps it from being "unhandled"
    pending.push(deflated);
    if (previous) {
      const done = previous;
      done.deflated.then(
        () => spare.push(done.block),
        () => {},
      );
    }
    previous = { block: input, deflated };
    // Keep at most one block per core queued behind this stream: memory stays a few blocks.
    while (pending.length > slots.limit) stream.push(await (pending.shift() as Promise<Buffer>));
  };

  return new Transform({
    transform(this: Transform, chunk: Buffer, _encoding, callback: TransformCallback) {
      (async () => {
        if (total === 0) this.push(gzipHeader(level));
        crc = crc32(chunk, crc);
        total += chunk.length;
        let offset = 0;
        while (offset < chunk.length) {
          // A full block goes out only once more input arrives: only then is it known not to be the last.
          if (filled === blockSize) {
            await dispatch(this, block, false);
            block = spare.pop() ?? Buffer.allocUnsafe(blockSize);
            filled = 0;
          }
          const take = Math.min(blockSize - filled, chunk.length - offset);
          chunk.copy(block, filled, offset, offset + take);
          filled += take;
          offset += take;
        }
      })().then(() => callback(), callback);
    },
    flush(this: Transform, callback: TransformCallback) {
      (async () => {
        if (total === 0) this.push(gzipHeader(level));
        await dispatch(this, block.subarray(0, filled), true);
        while (pending.length > 0) this.push(await (pending.shift() as Promise<Buffer>));
        const trailer = Buffer.alloc(8);
        trailer.writeUInt32LE(crc >>> 0, 0);
        trailer.writeUInt32LE(total % 2 ** 32, 4);
        this.push(trailer);
      })().then(() => callback(), callback);
    },
  });
}
