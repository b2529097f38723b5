import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmod,
  link,
  mkdir,
  mkdtemp,
  open,
  readFile,
  rm,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { extract as tarExtract } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BlobStore, openStore } from '../store/index.js';
import { collectGarbage, rssGrowth } from '../testing/memory.js';
import { planCopy } from './copy-plan.js';
import type { LayerEntry } from './entry.js';
import { MemoryFsView } from './fs-view.js';
import { writeLayer } from './layer-writer.js';
import { openContextSource } from './source.js';
import { sourceDateEpoch, tarStream } from './tar-writer.js';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'wharf-lw-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** A small context with a file, a nested dir, a symlink, a hard link and an executable. */
async function makeContext(dir: string, mtime: number): Promise<void> {
  await mkdir(path.join(dir, 'src/lib'), { recursive: true });
  await writeFile(path.join(dir, 'src/a.txt'), 'hello\n');
  await writeFile(path.join(dir, 'src/lib/b.js'), 'export {};\n');
  await writeFile(path.join(dir, 'src/run.sh'), '#!/bin/sh\n');
  await chmod(path.join(dir, 'src/run.sh'), 0o755);
  await symlink('a.txt', path.join(dir, 'src/link'));
  await link(path.join(dir, 'src/a.txt'), path.join(dir, 'src/hard'));
  await writeFile(path.join(dir, 'src', 'ünïcode-'.padEnd(120, 'x')), 'long non-ascii name\n');
  for (const p of ['src/a.txt', 'src/lib/b.js', 'src/run.sh', 'src/lib', 'src'])
    await utimes(path.join(dir, p), mtime, mtime);
}

/** The memory test's store writers sample RSS and force a full GC every this many bytes stored. */
const COLLECT_EVERY = 4 * 1024 * 1024; // about 8 MiB of the file: its layer gzips to half

/**
 * `store`, whose writers sample RSS then force a full GC every {@link COLLECT_EVERY} bytes (see
 * testing/memory.ts). Every read is a fresh buffer, so a writer that keeps chunks still grows.
 */
function collecting(store: BlobStore): BlobStore {
  const putWriter = store.putWriter.bind(store);
  store.putWriter = (options) => {
    const writer = putWriter(options);
    const write = writer._write.bind(writer);
    let stored = 0;
    let next = 0;
    writer._write = (chunk: Buffer, encoding, callback) => {
      if (stored >= next) {
        collectGarbage();
        next = stored + COLLECT_EVERY;
      }
      stored += chunk.byteLength;
      write(chunk, encoding, callback);
    };
    return writer;
  };
  return store;
}

async function planFor(dir: string): Promise<readonly LayerEntry[]> {
  const source = await openContextSource(dir, { ignore: [] });
  const view = new MemoryFsView();
  return (await planCopy({ sources: ['src'], dest: '/app/', source, view })).entries;
}

async function readTar(bytes: Uint8Array): Promise<{ header: Record<string, unknown>; body: string }[]> {
  const out: { header: Record<string, unknown>; body: string }[] = [];
  const ex = tarExtract();
  const done = (async () => {
    for await (const entry of ex) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      out.push({ header: { ...entry.header }, body: Buffer.concat(chunks).toString('utf8') });
    }
  })();
  (ex as unknown as NodeJS.WritableStream).end(Buffer.from(bytes));
  await done;
  return out;
}

describe('writeLayer', () => {
  it('is reproducible: same inputs → same digests, in another temp dir and another store', async () => {
    const a = path.join(tmp, 'ctx-a');
    const b = path.join(tmp, 'ctx-b');
    await makeContext(a, 1_000_000);
    await makeContext(b, 2_000_000);
    const storeA = await openStore({ root: path.join(tmp, 'store-a') });
    const storeB = await openStore({ root: path.join(tmp, 'store-b') });
    const env = {};
    const first = await writeLayer(storeA, await planFor(a), { env });
    const again = await writeLayer(storeA, await planFor(a), { env });
    const other = await writeLayer(storeB, await planFor(b), { env });
    expect(again).toEqual(first);
    expect(other).toEqual(first);
    expect(first.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
    expect(await storeA.size(first.digest)).toBe(first.size);
  });

  it('uses SOURCE_DATE_EPOCH for every mtime, and it changes the digests', async () => {
    const dir = path.join(tmp, 'ctx-epoch');
    await makeContext(dir, 5);
    const store = await openStore({ root: path.join(tmp, 'store-epoch') });
    const entries = await planFor(dir);
    const zero = await writeLayer(store, entries, { env: {} });
    const later = await writeLayer(store, entries, { env: { SOURCE_DATE_EPOCH: '1700000000' } });
    expect(later.digest).not.toBe(zero.digest);
    expect(later.diffId).not.toBe(zero.diffId);
    const tar = await readTar(gunzipSync(await store.readBytes(later.digest)));
    expect(new Set(tar.map((e) => (e.header.mtime as Date).getTime()))).toEqual(new Set([1_700_000_000_000]));
    const tar0 = await readTar(gunzipSync(await store.readBytes(zero.digest)));
    expect(new Set(tar0.map((e) => (e.header.mtime as Date).getTime()))).toEqual(new Set([0]));
    expect(sourceDateEpoch({})).toBe(0);
    expect(() => sourceDateEpoch({ SOURCE_DATE_EPOCH: 'yesterday' })).toThrow(/SOURCE_DATE_EPOCH/);
  });

  it('writes what the plan says, read back with tar-stream, and GNU tar lists it', async () => {
    const dir = path.join(tmp, 'ctx-read');
    await makeContext(dir, 7);
    const store = await openStore({ root: path.join(tmp, 'store-read') });
    const entries = await planFor(dir);
    const layer = await writeLayer(store, entries, { env: {} });
    const raw = gunzipSync(await store.readBytes(layer.digest));
    expect(raw.byteLength).toBe(layer.uncompressedSize);
    const tar = await readTar(raw);
    expect(tar.map((e) => e.header.name)).toEqual(
      entries.map((e) => (e.type === 'dir' ? `${e.path}/` : e.path)),
    );
    for (const [i, e] of entries.entries()) {
      const t = tar[i] as { header: Record<string, unknown>; body: string };
      expect(t.header).toMatchObject({ uid: e.uid, gid: e.gid, uname: '', gname: '' });
      expect((t.header.mode as number) & 0o7777).toBe(e.mode);
      if (e.type === 'file' && e.content.kind === 'path')
        expect(t.body).toBe(await readFile(e.content.path, 'utf8'));
      if (e.type === 'symlink') expect(t.header).toMatchObject({ type: 'symlink', linkname: e.linkTarget });
      if (e.type === 'hardlink') expect(t.header).toMatchObject({ type: 'link', linkname: e.linkTarget });
    }
    expect(entries.map((e) => [e.path, e.type])).toEqual([
      ['app', 'dir'],
      ['app/a.txt', 'file'],
      ['app/hard', 'hardlink'],
      ['app/lib', 'dir'],
      ['app/lib/b.js', 'file'],
      ['app/link', 'symlink'],
      ['app/run.sh', 'file'],
      [`app/${'ünïcode-'.padEnd(120, 'x')}`, 'file'],
    ]);
    const file = path.join(tmp, 'layer.tar');
    await writeFile(file, raw);
    const listing = execFileSync('tar', ['-tvf', file], { encoding: 'utf8' });
    expect(listing).toMatch(/^drwxr-xr-x 0\/0 +0 1970-01-01 00:00 app\/$/m);
    expect(listing).toMatch(/^-rwxr-xr-x 0\/0 +10 1970-01-01 00:00 app\/run\.sh$/m);
    expect(listing).toMatch(/^hrw-r--r-- 0\/0 +0 1970-01-01 00:00 app\/hard link to app\/a\.txt$/m);
    expect(listing).toMatch(/^lrwxrwxrwx 0\/0 +0 1970-01-01 00:00 app\/link -> a\.txt$/m);
    expect(listing).toContain('ünïcode-xxxx');
  });

  it('writes independent layers concurrently', async () => {
    const dir = path.join(tmp, 'ctx-conc');
    await makeContext(dir, 9);
    const store = await openStore({ root: path.join(tmp, 'store-conc') });
    const entries = await planFor(dir);
    const results = await Promise.all([1, 2, 3, 4].map((n) => writeLayer(store, entries, { mtime: n })));
    expect(new Set(results.map((r) => r.digest)).size).toBe(4);
    const serial = await writeLayer(store, entries, { mtime: 3 });
    expect(results[2]).toEqual(serial);
  });

  it('fails cleanly when a file changed size after planning', async () => {
    const dir = path.join(tmp, 'ctx-changed');
    await makeContext(dir, 9);
    const entries = await planFor(dir);
    await writeFile(path.join(dir, 'src/lib/b.js'), 'x');
    const chunks: Buffer[] = [];
    await expect(
      (async () => {
        for await (const c of tarStream(entries, { mtime: 0 })) chunks.push(c as Buffer);
      })(),
    ).rejects.toMatchObject({ code: 'LAYER_SOURCE_CHANGED' });
  });

  it('with alsoGzip, stores the tar and its gzip from one pass: the same blobs as two separate writes', async () => {
    const dir = path.join(tmp, 'ctx-also');
    await makeContext(dir, 11);
    await writeFile(path.join(dir, 'src/big.bin'), randomBytes(3 * 1024 * 1024)); // several gzip blocks
    const store = await openStore({ root: path.join(tmp, 'store-also') });
    const entries = await planFor(dir);
    const both = await writeLayer(store, entries, { mtime: 0, compression: 'none', alsoGzip: true });
    const tar = await writeLayer(store, entries, { mtime: 0, compression: 'none' });
    const gzip = await writeLayer(store, entries, { mtime: 0 });
    expect(both).toEqual({ ...tar, gzip: { digest: gzip.digest, size: gzip.size } });
    expect(
      gunzipSync(await readFile(store.path(gzip.digest))).equals(await readFile(store.path(tar.digest))),
    ).toBe(true);
  });

  it('with alsoGzip, leaves neither blob nor a temp file behind when a source changed', async () => {
    const dir = path.join(tmp, 'ctx-also-fail');
    await makeContext(dir, 12);
    const root = path.join(tmp, 'store-also-fail');
    const store = await openStore({ root });
    const entries = await planFor(dir);
    await writeFile(path.join(dir, 'src/lib/b.js'), 'x');
    await expect(
      writeLayer(store, entries, { mtime: 0, compression: 'none', alsoGzip: true }),
    ).rejects.toMatchObject({ code: 'LAYER_SOURCE_CHANGED' });
    // the store's lease (leases/<pid>-…, held while this process has it open) is not a blob or temp file
    const left = execFileSync('find', [root, '-type', 'f', '-not', '-path', `${root}/leases/*`], {
      encoding: 'utf8',
    }).trim();
    expect(left).toBe('');
  });

  it('streams a 200 MB file with flat memory', { timeout: 180_000 }, async () => {
    const big = path.join(tmp, 'big.bin');
    // Half random, half text-like: gzip has real work to do (random data alone is the worst case).
    const block = Buffer.concat([
      randomBytes(512 * 1024),
      Buffer.from('wharf layer data\n'.repeat(32 * 1024)),
    ]);
    // One buffer, rewritten after each write: 200 copies left garbage (or freed heap) under the
    // baseline, which then read 68–113 MB, and the growth +0 to +37 MB, depending on GC timing.
    const out = await open(big, 'w');
    for (let i = 0; i < 200; i++) {
      block.writeUInt32LE(i, 0);
      await out.write(block);
    }
    await out.close();
    const entries: LayerEntry[] = [
      { type: 'dir', path: 'data', mode: 0o755, uid: 0, gid: 0 },
      {
        type: 'file',
        path: 'data/big.bin',
        mode: 0o644,
        uid: 0,
        gid: 0,
        size: 200 * 1024 * 1024,
        content: { kind: 'path', path: big },
      },
    ];
    const store = collecting(await openStore({ root: path.join(tmp, 'store-big') }));
    const start = performance.now();
    let layer: Awaited<ReturnType<typeof writeLayer>> | undefined;
    const growth = await rssGrowth(async () => {
      layer = await writeLayer(store, entries, { env: {}, gzipLevel: 6 });
    });
    if (!layer) throw new Error('no layer');
    const seconds = (performance.now() - start) / 1000;
    const growthMb = growth / 1024 / 1024;
    console.log(
      `200 MB layer: ${seconds.toFixed(2)} s, ${(200 / seconds).toFixed(0)} MB/s, RSS growth ${growthMb.toFixed(1)} MB, compressed ${(layer.size / 1024 / 1024).toFixed(1)} MB`,
    );
    expect(layer.uncompressedSize).toBeGreaterThan(200 * 1024 * 1024);
    expect(growthMb).toBeLessThan(60);
    await rm(big);
  });
});
