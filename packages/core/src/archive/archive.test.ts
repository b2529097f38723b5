import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import {
  appendLayers,
  emptyImage,
  hashStream,
  layerFromOpener,
  withConfig,
  withMediaTypes,
} from '../image/index.js';
import { MediaType, parseDigest } from '../oci/index.js';
import { openStore } from '../store/index.js';
import {
  fileLayer,
  randomImage,
  randomLayer,
  tarOf,
  validateImage,
  validateIndex,
} from '../testing/index.js';
import { scratchDirs } from '../testing/scratch.js';
import { dockerArchiveManifest, readDockerArchive, repoTag, writeDockerArchive } from './docker-archive.js';
import { openOciArchive, readOciArchive, writeOciArchive } from './oci-archive.js';
import { indexTar, openEntry } from './tar-index.js';
import { writeTarFile } from './write-tar.js';

const scratch = scratchDirs('wharf-archive-test-');
afterAll(scratch.remove);
const freshDir = scratch.fresh;

function brokenLayer() {
  return layerFromOpener(
    async () =>
      new Readable({
        read() {
          this.push(Buffer.alloc(64 * 1024, 1));
          this.destroy(new Error('disk on fire'));
        },
      }),
    {
      digest: parseDigest(`sha256:${'a'.repeat(64)}`),
      diffId: parseDigest(`sha256:${'b'.repeat(64)}`),
      size: 1024 * 1024,
      uncompressedSize: 2 * 1024 * 1024,
    },
  );
}

const tarList = (file: string) =>
  execFileSync('tar', ['-tvf', file, '--numeric-owner'], { encoding: 'utf8' });

describe('oci-archive', () => {
  it('round-trips, reproducibly, with fixed entry order and metadata', async () => {
    const img = await randomImage(3, { files: 2, bytes: 4000 });
    const dir = freshDir();
    const a = join(dir, 'a.tar');
    const b = join(dir, 'b.tar');
    const { size } = await writeOciArchive(a, { image: img, names: ['hello'] });
    await writeOciArchive(b, { image: img, names: ['hello'] });
    expect(readFileSync(a)).toEqual(readFileSync(b));
    expect(readFileSync(a).length).toBe(size);
    const listing = tarList(a).trim().split('\n');
    expect(listing.slice(0, 4).map((l) => l.split(/\s+/).at(-1))).toEqual([
      'oci-layout',
      'index.json',
      'blobs/',
      'blobs/sha256/',
    ]);
    expect(listing.every((l) => / 0\/0 .* 1970-01-01 00:00 /.test(l))).toBe(true);
    const back = await readOciArchive(a, { ref: 'latest' });
    expect(await back.digest()).toBe(await img.digest());
    await validateImage(back);
    await validateIndex(await openOciArchive(a));
    // The OCI schemas check its documents in test/conformance/oci-written-documents.test.ts.
  });

  it('leaves no file behind when a layer fails, and keeps an existing archive', async () => {
    const dir = freshDir();
    const file = join(dir, 'img.tar');
    await writeOciArchive(file, await randomImage(1));
    const before = readFileSync(file);
    await expect(
      writeOciArchive(file, appendLayers(emptyImage(), await randomLayer(), brokenLayer())),
    ).rejects.toThrow(/writing .* failed: disk on fire/);
    expect(readdirSync(dir)).toEqual(['img.tar']);
    expect(readFileSync(file)).toEqual(before);
  });

  it('hashes a store blob once (the store verifies it) and still fails on a spoiled one', async () => {
    const store = await openStore({ root: join(freshDir(), 'store') });
    const layer = await fileLayer({ 'a.bin': new Uint8Array(50_000).fill(3) }, { store });
    const image = appendLayers(emptyImage(), layer);
    const dir = freshDir();
    await writeOciArchive(join(dir, 'good.tar'), image);
    const blob = store.path(await layer.digest());
    const spoiled = Buffer.from(readFileSync(blob));
    spoiled.writeUInt8(spoiled.readUInt8(spoiled.length - 20) ^ 0xff, spoiled.length - 20); // same size, other bytes
    rmSync(blob);
    writeFileSync(blob, spoiled);
    await expect(writeOciArchive(join(dir, 'bad.tar'), image)).rejects.toMatchObject({
      code: 'STORE_CORRUPT',
    });
    expect(readdirSync(dir)).toEqual(['good.tar']);
  });

  it.each([
    [
      'longer',
      (bytes: Buffer) => Buffer.concat([bytes, Buffer.from([0])]),
      { code: 'IMAGE_SIZE_MISMATCH', message: expect.stringMatching(/read more than \d+ bytes/) },
    ],
    [
      'shorter',
      (bytes: Buffer) => bytes.subarray(0, bytes.length - 1),
      { code: 'STORE_CORRUPT', message: expect.stringMatching(/is corrupt: its content hashes to sha256:/) },
    ],
  ])('fails on a %s store blob, read from its file, as on its stream', async (_how, spoil, failure) => {
    const store = await openStore({ root: join(freshDir(), 'store') });
    const layer = await fileLayer({ 'a.bin': new Uint8Array(3_000_000).fill(5) }, { store });
    const image = appendLayers(emptyImage(), layer);
    const blob = store.path(await layer.digest());
    const spoiled = spoil(readFileSync(blob));
    rmSync(blob);
    writeFileSync(blob, spoiled);
    const dir = freshDir();
    await expect(writeOciArchive(join(dir, 'bad.tar'), image)).rejects.toMatchObject(failure);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('reads a store blob deleted after its stream was opened from that stream', async () => {
    const store = await openStore({ root: join(freshDir(), 'store') });
    const bytes = Buffer.alloc(2_000_000, 7);
    const { digest } = await store.put(bytes);
    const file = join(freshDir(), 'one.tar');
    await writeTarFile(file, [
      {
        name: 'blob',
        size: bytes.length,
        expected: { digest, what: 'the blob' },
        open: async () => {
          const stream = await store.open(digest);
          await store.delete(digest);
          return stream;
        },
      },
    ]);
    // Buffer.equals: toEqual walks 2 MB byte by byte
    expect(
      readFileSync(file)
        .subarray(512, 512 + bytes.length)
        .equals(bytes),
    ).toBe(true);
  });
});

describe('docker-archive', () => {
  it('names RepoTags the way Docker does', () => {
    expect(repoTag('hello')).toBe('hello:latest');
    expect(repoTag('docker.io/library/hello:1')).toBe('hello:1');
    expect(repoTag('ghcr.io/o/app')).toBe('ghcr.io/o/app:latest');
    expect(repoTag('localhost:5000/x:y')).toBe('localhost:5000/x:y');
    expect(() => repoTag(`hello@sha256:${'a'.repeat(64)}`)).toThrow(/no tag/);
  });

  it('writes the classic format (uncompressed layer.tar) and reads it back', async () => {
    const img = withConfig(await randomImage(2), (c) => ({ ...c, Cmd: ['sh'] }));
    const dir = freshDir();
    const file = join(dir, 'img.tar');
    const { manifest } = await writeDockerArchive(file, { image: img, names: ['hello', 'ghcr.io/o/app:1'] });
    const config = await img.config();
    const hex = (d: string) => d.slice(7);
    const layers = config.rootfs.diff_ids.map((d) => `${hex(d)}/layer.tar`);
    expect(manifest).toEqual([
      {
        Config: `${hex((await img.configDescriptor()).digest)}.json`,
        RepoTags: ['hello:latest', 'ghcr.io/o/app:1'],
        Layers: layers,
      },
    ]);
    expect(await dockerArchiveManifest(file)).toEqual(manifest);
    const entries = await indexTar(file);
    expect([...entries.keys()].at(-1)).toBe('repositories');
    expect(
      JSON.parse(readFileSync(join(dir, 'img.tar')).toString('latin1').includes('"hello"') ? '1' : '0'),
    ).toBe(1);
    for (const [i, layer] of (await img.layers()).entries()) {
      const entry = entries.get(layers[i] as string);
      expect(entry?.size).toBe((await hashStream(await layer.uncompressed())).size);
      expect((await hashStream(openEntry(file, entry as never))).digest).toBe(config.rootfs.diff_ids[i]);
    }
    const back = await readDockerArchive(file, { tag: 'hello' });
    await validateImage(back);
    expect(Buffer.from(await back.rawConfig())).toEqual(Buffer.from(await img.rawConfig()));
    expect(await back.mediaType()).toBe(MediaType.dockerManifest);
    expect((await back.manifest()).layers.map((l) => l.mediaType)).toEqual([
      MediaType.dockerLayer,
      MediaType.dockerLayer,
    ]);
    expect((await back.manifest()).layers.map((l) => l.digest)).toEqual(config.rootfs.diff_ids);
    const oci = await readDockerArchive(file, { tag: 'ghcr.io/o/app:1', flavor: 'oci' });
    await validateImage(oci);
    expect(await oci.mediaType()).toBe(MediaType.ociManifest);
    await expect(readDockerArchive(file, { tag: 'nope' })).rejects.toMatchObject({
      code: 'ARCHIVE_NOT_FOUND',
    });
  });

  it('is reproducible and deduplicates shared layers across images', async () => {
    const base = await randomImage(1);
    const one = withConfig(base, (c) => ({ ...c, Cmd: ['1'] }));
    const two = appendLayers(base, await fileLayer({ 'two.txt': '2' }));
    const dir = freshDir();
    const input = [
      { image: one, names: ['a:1'] },
      { image: two, names: ['a:2'] },
    ];
    await writeDockerArchive(join(dir, 'x.tar'), input);
    await writeDockerArchive(join(dir, 'y.tar'), input);
    expect(readFileSync(join(dir, 'x.tar'))).toEqual(readFileSync(join(dir, 'y.tar')));
    const names = [...(await indexTar(join(dir, 'x.tar'))).keys()];
    expect(names.filter((k) => k.endsWith('layer.tar'))).toHaveLength(2);
    expect(JSON.parse(readFileSync(join(dir, 'x.tar')).subarray(0, 0).toString() || '0')).toBe(0);
    expect(await (await readDockerArchive(join(dir, 'x.tar'), { tag: 'a:2' })).digest()).toBe(
      await withMediaTypes(
        await readDockerArchive(join(dir, 'x.tar'), { index: 1, flavor: 'oci' }),
        'docker',
      ).digest(),
    );
    await expect(readDockerArchive(join(dir, 'x.tar'))).rejects.toMatchObject({ code: 'ARCHIVE_AMBIGUOUS' });
  });

  it('reads gzip layer files and Docker ≥ 25 style blob paths', async () => {
    const tar = await tarOf({ 'hello.txt': 'hello\n' });
    const gz = gzipSync(tar);
    const config = Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        rootfs: {
          type: 'layers',
          diff_ids: [`sha256:${(await hashStream(Readable.from([tar]))).digest.slice(7)}`],
        },
      }),
    );
    const dir = freshDir();
    const src = join(dir, 'src');
    mkdirSync(join(src, 'blobs', 'sha256'), { recursive: true });
    writeFileSync(join(src, 'blobs', 'sha256', 'layer'), gz);
    writeFileSync(join(src, 'blobs', 'sha256', 'config'), config);
    writeFileSync(
      join(src, 'manifest.json'),
      JSON.stringify([{ Config: 'blobs/sha256/config', RepoTags: null, Layers: ['blobs/sha256/layer'] }]),
    );
    const file = join(dir, 'x.tar');
    execFileSync('tar', ['-cf', file, '-C', src, '.']); // "./" prefixes, as GNU tar writes them
    const img = await readDockerArchive(file);
    await validateImage(img);
    expect((await img.manifest()).layers[0]?.mediaType).toBe(MediaType.dockerLayerGzip);
    expect(await (await img.layers())[0]?.size()).toBe(gz.length);
  });

  it('leaves no file behind when a layer fails', async () => {
    const dir = freshDir();
    await expect(
      writeDockerArchive(join(dir, 'x.tar'), appendLayers(emptyImage(), brokenLayer())),
    ).rejects.toThrow(/writing .* failed: disk on fire/);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('indexTar', () => {
  it('handles long names (pax and GNU), prefixes and tells tar from not-tar', async () => {
    const dir = freshDir();
    const src = join(dir, 'src');
    const long = `${'d'.repeat(120)}/${'f'.repeat(120)}.txt`;
    mkdirSync(join(src, 'd'.repeat(120)), { recursive: true });
    writeFileSync(join(src, long), 'long');
    for (const format of ['gnu', 'pax', 'ustar']) {
      const file = join(dir, `${format}.tar`);
      try {
        execFileSync('tar', [`--format=${format}`, '-cf', file, '-C', src, long], { stdio: 'pipe' });
      } catch {
        continue; // ustar cannot store this name
      }
      const entries = await indexTar(file);
      const entry = entries.get(long);
      expect(entry, format).toBeDefined();
      expect((await hashStream(openEntry(file, entry as never))).size).toBe(4);
    }
    writeFileSync(join(dir, 'not.tar'), 'x'.repeat(1024));
    await expect(indexTar(join(dir, 'not.tar'))).rejects.toMatchObject({ code: 'ARCHIVE_NOT_TAR' });
    writeFileSync(join(dir, 'gz.tar'), Buffer.concat([gzipSync(Buffer.alloc(2048)), Buffer.alloc(1024)]));
    await expect(indexTar(join(dir, 'gz.tar'))).rejects.toMatchObject({ code: 'ARCHIVE_COMPRESSED' });
  });
});
