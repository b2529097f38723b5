import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { type Duplex, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { sha256Digest } from '../oci/index.js';
import { createZstdCompress, createZstdDecompress, zstdProgram, zstdVersion } from './zstd.js';

/** `size` bytes that compress about 2:1 (hex digits of random bytes). */
function textLike(size: number): Buffer {
  return Buffer.from(randomBytes(size / 2).toString('hex'));
}

async function through(stream: Duplex, input: Buffer): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline(Readable.from([input]), stream, async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) chunks.push(chunk);
  });
  return Buffer.concat(chunks);
}

function withPath<T>(path: string, fn: () => T): T {
  const saved = process.env.PATH;
  process.env.PATH = path;
  try {
    return fn();
  } finally {
    process.env.PATH = saved;
  }
}

describe('zstd', () => {
  it('round-trips through the program (and through Node when it has zstd)', { timeout: 60_000 }, async () => {
    const input = textLike(3 * 1024 * 1024);
    const zst = await through(createZstdCompress({ level: 3 }), input);
    expect(zst.length).toBeLessThan(input.length * 0.6);
    expect(zst.subarray(0, 4)).toEqual(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]));
    // (digests compared: vitest's toEqual walks a Buffer byte by byte)
    const digest = sha256Digest(input);
    expect(sha256Digest(await through(createZstdDecompress({ via: 'program' }), zst))).toBe(digest);
    expect(sha256Digest(await through(createZstdDecompress(), zst))).toBe(digest);
    // what any other zstd reads
    expect(sha256Digest(execFileSync('zstd', ['-q', '-d', '-c'], { input: zst, maxBuffer: 64 << 20 }))).toBe(
      digest,
    );
  });

  it('gives the same bytes every time, and for any thread count (multi-threaded zstd is deterministic)', {
    timeout: 120_000,
  }, async () => {
    // 24 MiB: several of zstd's multi-threading jobs at level 3, so the thread count could matter.
    const input = textLike(24 * 1024 * 1024);
    const a = await through(createZstdCompress({ level: 3 }), input);
    const b = await through(createZstdCompress({ level: 3 }), input);
    expect(sha256Digest(a)).toBe(sha256Digest(b));
    for (const threads of ['-T1', '-T2', '-T4', '-T8']) {
      const other = execFileSync('zstd', ['-q', '-c', '-3', threads, '--check'], {
        input,
        maxBuffer: 64 << 20,
      });
      expect(sha256Digest(other), threads).toBe(sha256Digest(a));
    }
    // level matters (the record of a layer's zstd form is keyed by it)
    const level9 = await through(createZstdCompress({ level: 9 }), input.subarray(0, 1 << 20));
    const level3 = await through(createZstdCompress({ level: 3 }), input.subarray(0, 1 << 20));
    expect(sha256Digest(level9)).not.toBe(sha256Digest(level3));
  });

  it('refuses a level out of range, naming the range', () => {
    for (const level of [0, 20, 2.5]) {
      expect(() => createZstdCompress({ level })).toThrow(
        expect.objectContaining({
          code: 'IMAGE_UNSUPPORTED_COMPRESSION',
          hint: expect.stringContaining('1 to 19'),
        }),
      );
    }
  });

  it('says how to fix a missing zstd program (writing, and reading on a Node without zstd)', async () => {
    withPath('/nonexistent', () => {
      expect(zstdProgram()).toBeUndefined();
      expect(() => createZstdCompress()).toThrow(
        expect.objectContaining({
          code: 'IMAGE_UNSUPPORTED_COMPRESSION',
          hint: expect.stringContaining('apt install zstd'),
        }),
      );
      expect(() => createZstdDecompress({ via: 'program', what: 'layer 1' })).toThrow(
        expect.objectContaining({
          code: 'IMAGE_UNSUPPORTED_COMPRESSION',
          message: expect.stringContaining('layer 1'),
          hint: 'install zstd (apt install zstd) or use Node ≥ 22.15',
        }),
      );
      if (!('createZstdDecompress' in zlib)) {
        expect(() => createZstdDecompress()).toThrow(
          expect.objectContaining({ code: 'IMAGE_UNSUPPORTED_COMPRESSION' }),
        );
      }
    });
    await withPath('/nonexistent', async () => {
      await expect(zstdVersion()).rejects.toMatchObject({ code: 'IMAGE_UNSUPPORTED_COMPRESSION' });
    });
    expect(zstdProgram()).toMatch(/\/zstd$/);
    expect(await zstdVersion()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('fails with the program’s message on corrupt or truncated input', async () => {
    await expect(
      through(createZstdDecompress({ via: 'program' }), Buffer.from('not zstd at all')),
    ).rejects.toMatchObject({
      code: 'IMAGE_COMPRESSION_FAILED',
      message: expect.stringMatching(/exited 1/),
    });
    const zst = await through(createZstdCompress(), textLike(1 << 20));
    await expect(
      through(createZstdDecompress({ via: 'program' }), zst.subarray(0, zst.length - 100)),
    ).rejects.toMatchObject({ code: 'IMAGE_COMPRESSION_FAILED' });
  });

  it('kills the program when the stream is destroyed mid-way', async () => {
    const stream = createZstdCompress();
    const closed = new Promise((resolve) => stream.on('close', resolve));
    const failed = new Promise((resolve) => stream.on('error', resolve));
    stream.write(textLike(1 << 20));
    stream.destroy(new Error('stop'));
    expect(await failed).toMatchObject({ message: 'stop' });
    await closed;
    expect(stream.destroyed).toBe(true);
  });
});
