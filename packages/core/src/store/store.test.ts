import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { createDigester, type Digest, OciError, parseDigest, sha256Digest } from '../oci/index.js';
import { collectGarbage, rssGrowth } from '../testing/memory.js';
import { StoreError } from './errors.js';
import { type BlobStore, defaultStoreRoot, openStore, TEMP_PREFIX } from './store.js';
import { generatedChunks } from './testdata/content.js';

const scratch = mkdtempSync(join(tmpdir(), 'wharf-store-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let store: BlobStore;
let n = 0;
beforeEach(async () => {
  store = await openStore({ root: join(scratch, `store-${n++}`) });
});

function temps(s: BlobStore = store): string[] {
  return ['sha256', 'sha512'].flatMap((a) =>
    readdirSync(join(s.root, 'blobs', a)).filter((name) => name.startsWith(TEMP_PREFIX)),
  );
}

function digestOfChunks(chunks: Iterable<Uint8Array>): { digest: Digest; size: number } {
  const d = createDigester();
  for (const chunk of chunks) d.update(chunk);
  return { digest: d.digest(), size: d.size };
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    return (error as StoreError).code ?? String(error);
  }
  return undefined;
}

const hello = Buffer.from('hello, store');
const helloDigest = sha256Digest(hello);

describe('openStore', () => {
  it('defaults to $XDG_CACHE_HOME/wharf, else ~/.cache/wharf', () => {
    expect(defaultStoreRoot({ XDG_CACHE_HOME: '/x/cache' })).toBe(join('/x/cache', 'wharf'));
    expect(defaultStoreRoot({ XDG_CACHE_HOME: 'relative' })).toMatch(/\.cache[/\\]wharf$/);
    expect(defaultStoreRoot({})).toMatch(/\.cache[/\\]wharf$/);
  });

  it('lays blobs out as blobs/<algorithm>/<hex>', async () => {
    expect(store.path(helloDigest)).toBe(join(store.root, 'blobs', 'sha256', helloDigest.slice(7)));
    expect(() => store.path('sha256:../../etc/passwd' as Digest)).toThrow(OciError);
  });
});

describe('put and read', () => {
  it('keeps blobs read-only (layouts hardlink them) and names the file behind open() streams', async () => {
    const { digest } = await store.put(Buffer.from('read-only'));
    expect(statSync(store.path(digest)).mode & 0o777).toBe(0o444);
    const stream = await store.open(digest);
    const stored = (stream as unknown as Record<symbol, { corrupt(actual: string): Error }>)[
      Symbol.for('wharf.blob-file')
    ];
    expect(stored).toEqual({
      file: store.path(digest),
      digest,
      verified: true,
      corrupt: expect.any(Function),
    });
    // The error a reader of the file itself gives for other bytes: the stream's own.
    expect(stored?.corrupt(`sha256:${'0'.repeat(64)}`)).toMatchObject({
      code: 'STORE_CORRUPT',
      message: `stored blob ${digest} is corrupt: its content hashes to sha256:${'0'.repeat(64)}`,
    });
    stream.destroy();
  });

  it('stores bytes once and reads them back', async () => {
    expect(await store.has(helloDigest)).toBe(false);
    expect(await store.put(hello)).toEqual({ digest: helloDigest, size: hello.length });
    expect(await store.put(hello, helloDigest)).toEqual({ digest: helloDigest, size: hello.length });
    expect(await store.has(helloDigest)).toBe(true);
    expect(await store.size(helloDigest)).toBe(hello.length);
    expect(readFileSync(store.path(helloDigest))).toEqual(hello);
    expect(Buffer.from(await store.readBytes(helloDigest))).toEqual(hello);
    expect(await store.list()).toEqual([helloDigest]);
    expect(temps()).toEqual([]);
  });

  it('stores streams (Readable, async iterables, string chunks) with the digest of all bytes', async () => {
    const chunks = [...generatedChunks(5, 1000)];
    const expected = digestOfChunks(chunks);
    expect(await store.put(Readable.from(chunks))).toEqual(expected);
    async function* gen() {
      yield* chunks;
    }
    expect(await store.put(gen(), { expected: expected.digest, size: expected.size })).toEqual(expected);
    expect(await store.put(Readable.from(['a', 'b']))).toEqual({ digest: sha256Digest('ab'), size: 2 });
    expect(await store.put(new Uint8Array())).toEqual({ digest: sha256Digest(''), size: 0 });
    expect(temps()).toEqual([]);
  });

  it('stores sha512 blobs under blobs/sha512 when that digest is expected', async () => {
    const digest = parseDigest(
      'sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
    );
    expect(await store.put(Readable.from([Buffer.from('abc')]), digest)).toEqual({ digest, size: 3 });
    expect(store.path(digest)).toContain(join('blobs', 'sha512'));
    expect(await store.list()).toEqual([digest]);
    expect(Buffer.from(await store.readBytes(digest)).toString()).toBe('abc');
  });

  it('rejects a digest mismatch and leaves no file behind', async () => {
    const wrong = sha256Digest('something else');
    for (const source of [hello, Readable.from([hello])]) {
      try {
        await store.put(source, wrong);
        expect.unreachable();
      } catch (error) {
        expect(error).toBeInstanceOf(StoreError);
        expect((error as StoreError).code).toBe('STORE_DIGEST_MISMATCH');
        expect((error as StoreError).message).toContain(wrong);
        expect((error as StoreError).message).toContain(helloDigest);
        expect((error as StoreError).hint).toBeTruthy();
      }
    }
    expect(await store.has(wrong)).toBe(false);
    expect(await store.has(helloDigest)).toBe(false);
    expect(await store.list()).toEqual([]);
    expect(temps()).toEqual([]);
  });

  it('rejects a size mismatch', async () => {
    expect(await codeOf(store.put(Readable.from([hello]), { size: 3 }))).toBe('STORE_SIZE_MISMATCH');
    expect(await codeOf(store.put(hello, { expected: helloDigest, size: 3 }))).toBe('STORE_SIZE_MISMATCH');
    expect(await store.list()).toEqual([]);
    expect(temps()).toEqual([]);
  });

  it('removes the temp file when the source fails', async () => {
    async function* failing() {
      yield Buffer.alloc(1000);
      throw new Error('network went away');
    }
    await expect(store.put(failing())).rejects.toThrow('network went away');
    expect(temps()).toEqual([]);
    expect(await store.list()).toEqual([]);
  });

  it('reports missing blobs with STORE_NOT_FOUND', async () => {
    expect(await codeOf(store.open(helloDigest))).toBe('STORE_NOT_FOUND');
    expect(await codeOf(store.size(helloDigest))).toBe('STORE_NOT_FOUND');
    expect(await store.delete(helloDigest)).toBe(false);
  });

  it('verifies while reading unless told not to', async () => {
    await store.put(hello);
    writeFileSync(store.path(helloDigest), 'tampered');
    expect(await codeOf(store.readBytes(helloDigest))).toBe('STORE_CORRUPT');
    expect(Buffer.from(await store.readBytes(helloDigest, { verify: false })).toString()).toBe('tampered');
    // A put of the real content replaces a blob whose size is wrong.
    await store.put(Readable.from([hello]));
    expect(Buffer.from(await store.readBytes(helloDigest))).toEqual(hello);
  });

  it('delete removes a blob', async () => {
    await store.put(hello);
    expect(await store.delete(helloDigest)).toBe(true);
    expect(await store.has(helloDigest)).toBe(false);
    expect(await store.list()).toEqual([]);
  });

  it('list skips temp files and foreign names', async () => {
    await store.put(hello);
    writeFileSync(join(store.root, 'blobs', 'sha256', `${TEMP_PREFIX}123-abc`), 'partial');
    writeFileSync(join(store.root, 'blobs', 'sha256', 'README'), 'x');
    expect(await store.list()).toEqual([helloDigest]);
  });
});

describe('putWriter', () => {
  it('hashes as bytes flow and commits after a pipeline', async () => {
    const chunks = [...generatedChunks(20, 4096)];
    const writer = store.putWriter();
    await pipeline(Readable.from(chunks), writer);
    expect(writer.bytesWritten).toBe(20 * 4096);
    const info = await writer.commit();
    expect(info).toEqual(digestOfChunks(chunks));
    expect(await writer.commit()).toBe(info);
    expect(await store.has(info.digest)).toBe(true);
    expect(temps()).toEqual([]);
  });

  it('commit() ends the stream itself', async () => {
    const writer = store.putWriter({ expected: helloDigest });
    writer.write(hello.subarray(0, 5));
    writer.write(hello.subarray(5));
    expect(await writer.commit()).toEqual({ digest: helloDigest, size: hello.length });
  });

  it('rejects a mismatch at commit and leaves nothing', async () => {
    const wrong = sha256Digest('nope');
    const writer = store.putWriter({ expected: wrong });
    writer.end(hello);
    expect(await codeOf(writer.commit())).toBe('STORE_DIGEST_MISMATCH');
    expect(await store.list()).toEqual([]);
    expect(temps()).toEqual([]);
  });

  it('abort() discards, and a later commit fails', async () => {
    const writer = store.putWriter();
    await new Promise((resolve) => writer.write(hello, resolve));
    expect(temps()).toHaveLength(1);
    await writer.abort();
    expect(temps()).toEqual([]);
    expect(await codeOf(writer.commit())).toBe('STORE_WRITER_CLOSED');
  });

  it('a failed pipeline cleans up', async () => {
    async function* failing() {
      yield hello;
      throw new Error('producer failed');
    }
    const writer = store.putWriter();
    await expect(pipeline(failing(), writer)).rejects.toThrow('producer failed');
    // 'close' comes after the temp file is gone.
    if (!writer.closed) await new Promise((resolve) => writer.once('close', resolve));
    expect(temps()).toEqual([]);
    expect(await codeOf(writer.commit())).toBe('STORE_WRITER_CLOSED');
  });

  it('reports a store it cannot write to, through write and commit', async () => {
    const broken = await openStore({ root: join(scratch, 'broken') });
    rmSync(join(broken.root, 'blobs', 'sha256'), { recursive: true });
    writeFileSync(join(broken.root, 'blobs', 'sha256'), 'not a directory');
    await expect(broken.put(hello)).rejects.toThrow(/ENOTDIR|EEXIST/);
    const writer = broken.putWriter();
    const errors: Error[] = [];
    writer.on('error', (error) => errors.push(error));
    writer.write(hello);
    await expect(writer.commit()).rejects.toThrow();
    expect(errors.length).toBeGreaterThan(0);
    expect(writer.destroyed).toBe(true);
  });
});

describe('concurrency', () => {
  it('many concurrent puts of one blob all succeed with one file and no temp files', async () => {
    const chunks = [...generatedChunks(16)]; // 1 MiB
    const expected = digestOfChunks(chunks);
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => {
        if (i % 3 === 0) return store.put(Buffer.concat(chunks), expected.digest);
        if (i % 3 === 1) return store.put(Readable.from(chunks));
        const writer = store.putWriter({ expected: expected.digest });
        return pipeline(Readable.from(chunks), writer).then(() => writer.commit());
      }),
    );
    for (const result of results) expect(result).toEqual(expected);
    expect(await store.list()).toEqual([expected.digest]);
    expect(temps()).toEqual([]);
    expect(digestOfChunks([readFileSync(store.path(expected.digest))])).toEqual(expected);
  });

  it('two processes writing the same blob never expose a partial file', { timeout: 120_000 }, async () => {
    const child = await bundleChild();
    const chunkCount = 320; // 20 MiB
    const expected = digestOfChunks(generatedChunks(chunkCount));
    const finalPath = store.path(expected.digest);
    const seenSizes = new Set<number>();
    const watcher = setInterval(() => {
      try {
        seenSizes.add(statSync(finalPath).size);
      } catch {
        // not there yet
      }
    }, 1);
    try {
      const run = () =>
        promisify(execFile)(process.execPath, [child, store.root, String(chunkCount), '3'], {
          maxBuffer: 1 << 20,
        });
      const outputs = await Promise.all([run(), run()]);
      for (const { stdout } of outputs) {
        expect(JSON.parse(stdout)).toEqual([expected, expected, expected]);
      }
    } finally {
      clearInterval(watcher);
    }
    expect([...seenSizes]).toEqual([expected.size]);
    expect(await store.list()).toEqual([expected.digest]);
    expect(temps()).toEqual([]);
    expect(digestOfChunks([readFileSync(finalPath)])).toEqual(expected);
  });
});

/** The memory test's sources and reader sample RSS and force a full GC every this many bytes. */
const COLLECT_EVERY = 8 * 1024 * 1024;

/**
 * `chunks`, sampling RSS then forcing a full GC every {@link COLLECT_EVERY} bytes (see
 * testing/memory.ts). The chunks are fresh buffers, as from a file or socket, so a store that keeps
 * them still grows by the blob.
 */
async function* collecting(chunks: Iterable<Buffer> | AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let seen = 0;
  let next = 0;
  for await (const chunk of chunks) {
    if (seen >= next) {
      collectGarbage();
      next = seen + COLLECT_EVERY;
    }
    seen += chunk.byteLength;
    yield chunk;
  }
}

describe('memory', () => {
  it('puts a 100 MB stream with flat memory', { timeout: 120_000 }, async () => {
    const chunkCount = 1600; // 1600 × 64 KiB = 100 MiB
    // Warm up first: on the first large stream the V8 heap, JIT and allocator arenas grow to a steady
    // size (25–35 MiB here, whatever the blob size). The assertion is about memory that scales with the blob.
    const warm = await store.put(Readable.from(generatedChunks(480)));
    for await (const _ of await store.open(warm.digest)) {
      // drain
    }
    let info: Awaited<ReturnType<BlobStore['put']>> | undefined;
    const growth = await rssGrowth(async () => {
      info = await store.put(Readable.from(collecting(generatedChunks(chunkCount))));
      const writer = store.putWriter({ expected: info.digest });
      await pipeline(Readable.from(collecting(generatedChunks(chunkCount))), writer);
      expect(await writer.commit()).toEqual(info);
      let read = 0;
      for await (const chunk of collecting(await store.open(info.digest))) read += chunk.length;
      expect(read).toBe(chunkCount * 64 * 1024);
    });
    if (!info) throw new Error('nothing stored');
    expect(info.size).toBe(chunkCount * 64 * 1024);
    expect(info.digest).toBe(digestOfChunks(generatedChunks(chunkCount)).digest);
    expect(growth, `RSS grew by ${(growth / 2 ** 20).toFixed(1)} MiB`).toBeLessThan(50 * 1024 * 1024);
    await store.delete(info.digest);
  });
});

/** The child runs the store's TypeScript source in a plain `node` process, so it is bundled first. */
async function bundleChild(): Promise<string> {
  const outfile = join(scratch, 'put-child.mjs');
  await build({
    entryPoints: [fileURLToPath(new URL('./testdata/put-child.ts', import.meta.url))],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'silent',
  });
  return outfile;
}
