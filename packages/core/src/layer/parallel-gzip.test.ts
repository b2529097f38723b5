import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip, gunzipSync, inflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createParallelGzip, GZIP_BLOCK_SIZE, looksIncompressible, storedBlocks } from './parallel-gzip.js';

/** Deterministic, partly compressible bytes (text-like runs and pseudo-random noise). */
function sample(size: number, seed = 1): Buffer {
  const out = Buffer.alloc(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = i % 4096 < 2048 ? 97 + ((i >> 7) % 26) : x >>> 24;
  }
  return out;
}

async function collect(transform: Transform, input: Buffer, chunk: number): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for (let i = 0; i < input.length; i += chunk) pieces.push(input.subarray(i, i + chunk));
  const out: Buffer[] = [];
  await pipeline(Readable.from(pieces), transform, async (source: AsyncIterable<Buffer>) => {
    for await (const piece of source) out.push(piece);
  });
  return Buffer.concat(out);
}

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** Deterministic bytes no compressor can shrink: a sha256 counter stream. */
function randomLike(size: number, seed = 'r'): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0; i * 32 < size; i++)
    createHash('sha256')
      .update(`${seed}${i}`)
      .digest()
      .copy(out, i * 32);
  return out;
}

describe('looksIncompressible', () => {
  it('is true for random bytes and false for text, code and short blocks', () => {
    expect(looksIncompressible(randomLike(GZIP_BLOCK_SIZE))).toBe(true);
    expect(looksIncompressible(randomLike(256 * 1024))).toBe(true);
    expect(looksIncompressible(sample(GZIP_BLOCK_SIZE))).toBe(false); // half random, half text
    expect(looksIncompressible(Buffer.alloc(GZIP_BLOCK_SIZE))).toBe(false);
    expect(looksIncompressible(randomLike(32 * 1024))).toBe(false); // too few samples to say
    // bytes of only 200 values: random, but deflate's Huffman codes still shrink them
    const narrow = randomLike(GZIP_BLOCK_SIZE).map((byte) => byte % 200);
    expect(looksIncompressible(narrow)).toBe(false);
  });

  it('samples every byte of 8-byte numbers: an array of int64 counters is not random', () => {
    const counters = new BigUint64Array(GZIP_BLOCK_SIZE / 8).map((_, i) => BigInt(i) * 0x0101_0101n);
    expect(looksIncompressible(new Uint8Array(counters.buffer))).toBe(false);
    // every 8th byte random, the rest zero: deflate shrinks it ~5x
    const sparse = Buffer.alloc(GZIP_BLOCK_SIZE);
    randomLike(GZIP_BLOCK_SIZE / 8).forEach((byte, i) => {
      sparse[i * 8] = byte;
    });
    expect(looksIncompressible(sparse)).toBe(false);
  });
});

describe('storedBlocks', () => {
  it.each([1, 65_535, 65_536, 3 * 65_535, GZIP_BLOCK_SIZE])(
    'writes %i bytes as stored blocks inflate reads back',
    (size) => {
      const input = randomLike(size, `s${size}`);
      const stored = storedBlocks(input, true);
      expect(stored.length).toBe(size + 5 * Math.ceil(size / 65_535));
      expect(inflateRawSync(stored).equals(input)).toBe(true);
      // not last: no final bit, so a final block must follow
      expect(
        inflateRawSync(
          Buffer.concat([storedBlocks(input, false), storedBlocks(Buffer.alloc(0), true)]),
        ).equals(input),
      ).toBe(true);
    },
  );
});

describe('createParallelGzip', () => {
  it.each([0, 1, 100, 70_000, GZIP_BLOCK_SIZE])(
    'gives exactly createGzip bytes for %i bytes (one block)',
    async (size) => {
      const input = sample(size);
      const single = await collect(createGzip({ level: 6 }), input, 4096);
      expect(await collect(createParallelGzip(), input, 4096)).toEqual(single);
    },
  );

  it.each([1, 9])('writes level %i into the header as zlib does', async (level) => {
    const input = sample(5000);
    expect(await collect(createParallelGzip({ level }), input, 999)).toEqual(
      await collect(createGzip({ level }), input, 999),
    );
  });

  it('round-trips inputs of many blocks, through Node and through gzip(1)', async () => {
    const input = sample(3 * GZIP_BLOCK_SIZE + 12_345, 7);
    const gz = await collect(createParallelGzip(), input, 64 * 1024);
    expect(gunzipSync(gz).equals(input)).toBe(true);
    expect(execFileSync('gzip', ['-dc'], { input: gz, maxBuffer: 64 * 1024 * 1024 }).equals(input)).toBe(
      true,
    );
    expect(() => execFileSync('gzip', ['-t'], { input: gz })).not.toThrow();
  });

  it('primes each block with the input before it: compresses like one stream', async () => {
    // The same 40 KiB repeated: every block after the first is found in its dictionary.
    const unit = sample(40 * 1024, 3);
    const input = Buffer.concat(Array.from({ length: 40 }, () => unit));
    const parallel = await collect(createParallelGzip({ blockSize: 64 * 1024 }), input, 8192);
    const single = await collect(createGzip({ level: 6 }), input, 8192);
    expect(gunzipSync(parallel).equals(input)).toBe(true);
    expect(parallel.length).toBeLessThan(single.length * 1.1);
  });

  it('gives the same bytes however the input is chunked', async () => {
    const input = sample(5 * 64 * 1024 + 17, 11);
    const digests = new Set<string>();
    for (const chunk of [1000, 64 * 1024, 64 * 1024 + 1, 300_000, input.length])
      digests.add(sha(await collect(createParallelGzip({ blockSize: 64 * 1024 }), input, chunk)));
    expect(digests.size).toBe(1);
  });

  it('handles an input that ends exactly on a block boundary', async () => {
    const input = sample(4 * 32 * 1024, 5);
    const gz = await collect(createParallelGzip({ blockSize: 32 * 1024 }), input, 32 * 1024);
    expect(gunzipSync(gz).equals(input)).toBe(true);
  });

  it('stores the random blocks of a longer input, deflates the rest, and stays one gzip stream', async () => {
    const text = Buffer.from('a line of text that repeats, as logs and sources do\n'.repeat(25_000));
    const input = Buffer.concat([text, randomLike(2 * GZIP_BLOCK_SIZE), text.subarray(0, 300_000)]);
    const gz = await collect(createParallelGzip(), input, 64 * 1024);
    expect(execFileSync('gzip', ['-dc'], { input: gz, maxBuffer: 64 * 1024 * 1024 }).equals(input)).toBe(
      true,
    );
    // stored: the random part costs its size plus ~5 bytes per 64 KiB stored block
    expect(gz.length).toBeGreaterThan(2 * GZIP_BLOCK_SIZE);
    expect(gz.length).toBeLessThan(2 * GZIP_BLOCK_SIZE + 64 * 1024);
    const digests = new Set<string>();
    for (const chunk of [4096, 1_000_003, input.length]) {
      digests.add(sha(await collect(createParallelGzip(), input, chunk)));
    }
    expect(digests.size).toBe(1);
  });

  it('deflates a random input of one block, as createGzip does', async () => {
    const input = randomLike(GZIP_BLOCK_SIZE);
    const single = await collect(createGzip({ level: 6 }), input, 65536);
    expect(sha(await collect(createParallelGzip(), input, 65536))).toBe(sha(single));
  });

  it('rejects a level or block size it cannot use', () => {
    expect(() => createParallelGzip({ level: 0 })).toThrow(/level 0/);
    expect(() => createParallelGzip({ blockSize: 1000 })).toThrow(/block size 1000/);
  });

  it('passes a failing source on as an error', async () => {
    const failing = new Readable({
      read() {
        this.destroy(new Error('source broke'));
      },
    });
    await expect(
      pipeline(failing, createParallelGzip(), async (s: AsyncIterable<Buffer>) => {
        for await (const _ of s);
      }),
    ).rejects.toThrow('source broke');
  });
});
