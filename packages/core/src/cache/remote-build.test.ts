// build({ cacheTo, cacheFrom }) through the API, with type=local (no registry, no RUN: runs anywhere).
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { build } from '../build.js';
import { define, toGraph } from '../dsl/graph.js';
import { stage } from '../dsl/stage.js';
import { buildImage } from '../engine/build.js';
import type { BuildEvent } from '../events.js';
import { emptyImage } from '../image/empty.js';
import { appendLayers } from '../image/mutate.js';
import { writeLayout } from '../layout/write.js';
import { fileLayer } from '../testing/random.js';

const dir = mkdtempSync(join(tmpdir(), 'wharf-remote-build-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base = stage('base').from('scratch').copy('a.txt', '/a.txt');
const app = stage('app').from('scratch').copy('b.txt', '/b.txt').copy(base, '/a.txt', '/a.txt');

it('a fresh cache dir importing a local cache hits every step and builds the same image', async () => {
  writeFileSync(join(dir, 'a.txt'), 'a\n');
  writeFileSync(join(dir, 'b.txt'), 'b\n');
  const cache = join(dir, 'ci-cache');
  const output = { type: 'oci', dest: join(dir, 'out-a'), names: [] } as const;
  const events: BuildEvent[] = [];
  const a = await build(app, {
    contextDir: dir,
    cacheDir: join(dir, 'machine-a'),
    output,
    cacheTo: [`type=local,dest=${cache},mode=max`],
    onEvent: (e) => events.push(e),
  });
  expect(a.steps.every((s) => !s.cached)).toBe(true);
  // three COPY steps; base's and app's copies of a.txt make the same layer, listed once
  expect(events).toContainEqual(
    expect.objectContaining({
      type: 'log',
      text: expect.stringMatching(/^cache exported to local:.*: 3 step records, 2 layers sha256:/),
    }),
  );
  const b = await build(app, {
    contextDir: dir,
    cacheDir: join(dir, 'machine-b'),
    output: { ...output, dest: join(dir, 'out-b') },
    cacheFrom: [{ type: 'local', dir: cache }],
  });
  expect(b.steps.filter((s) => s.text.startsWith('COPY')).map((s) => s.cached)).toEqual([true, true, true]);
  expect(b.digest).toBe(a.digest);
});

it('mode=min (the default) leaves out the stages the target only copies from', async () => {
  const cache = join(dir, 'min-cache');
  const events: BuildEvent[] = [];
  await build(app, {
    contextDir: dir,
    cacheDir: join(dir, 'machine-c'),
    cacheTo: [{ type: 'local', dir: cache }],
    onEvent: (e) => events.push(e),
  });
  // app's two COPYs; base's COPY is not part of the target image
  expect(events).toContainEqual(
    expect.objectContaining({ type: 'log', text: expect.stringMatching(/: 2 step records, 2 layers /) }),
  );
});

it('a cache that cannot be read is a warning; a bad spec and the docker backend are refused', async () => {
  const events: BuildEvent[] = [];
  const result = await build(app, {
    contextDir: dir,
    cacheDir: join(dir, 'machine-d'),
    cacheFrom: [`type=local,src=${join(dir, 'nowhere')}`],
    onEvent: (e) => events.push(e),
  });
  expect(result.steps.every((s) => !s.cached)).toBe(true);
  expect(events).toContainEqual(
    expect.objectContaining({
      type: 'warning',
      message: expect.stringMatching(/^cache import from local:.*nowhere failed: no cache in /),
    }),
  );
  await expect(build(app, { contextDir: dir, cacheTo: ['type=s3,bucket=x'] })).rejects.toThrow(
    expect.objectContaining({ code: 'CACHE_BAD_SPEC' }),
  );
  await expect(
    build(app, { contextDir: dir, backend: 'docker', cacheFrom: ['registry.example.com/app:cache'] }),
  ).rejects.toThrow(expect.objectContaining({ code: 'BUILD_CACHE_BACKEND' }));
});

it('define({ cacheTo, cacheFrom }) exports and imports; build() options replace them; bad values are refused', async () => {
  writeFileSync(join(dir, 'a.txt'), 'a\n');
  writeFileSync(join(dir, 'b.txt'), 'b\n');
  const cache = join(dir, 'define-cache');
  const output = { type: 'oci', dest: join(dir, 'out-define-a'), names: [] } as const;
  const definition = define({
    target: app,
    cacheTo: [`type=local,dest=${cache},mode=max`],
    cacheFrom: [`type=local,src=${cache}`],
  });
  const events: BuildEvent[] = [];
  const a = await build(definition, {
    contextDir: dir,
    cacheDir: join(dir, 'define-a'),
    output,
    onEvent: (e) => events.push(e),
  });
  // the first build finds no cache yet (a warning), then exports one
  expect(events.filter((e) => e.type === 'log').map((e) => (e as { text: string }).text)).toContainEqual(
    expect.stringMatching(/^cache exported to local:.*define-cache: 3 step records/),
  );
  const b = await build(definition, {
    contextDir: dir,
    cacheDir: join(dir, 'define-b'),
    output: { ...output, dest: join(dir, 'out-define-b') },
  });
  expect(b.steps.every((s) => s.cached)).toBe(true);
  expect(b.digest).toBe(a.digest);
  // the call's own (empty) list wins: nothing imported, every step runs
  const c = await build(definition, {
    contextDir: dir,
    cacheDir: join(dir, 'define-c'),
    output: { ...output, dest: join(dir, 'out-define-c') },
    cacheFrom: [],
    cacheTo: [],
  });
  expect(c.steps.some((s) => s.cached)).toBe(false);
  expect(() => define({ target: app, cacheTo: 'type=local,dest=x' as unknown as string[] })).toThrow(
    /define\(\) cacheTo must be a list of strings/,
  );
});

it.each(['gzip', 'zstd'])(
  'compression=%s: layers travel compressed and come back as the same tars',
  async (format) => {
    writeFileSync(join(dir, 'a.txt'), 'a\n');
    writeFileSync(join(dir, 'b.txt'), 'b\n');
    const cache = join(dir, `${format}-cache`);
    const output = { type: 'oci', dest: join(dir, `out-${format}-a`), names: [] } as const;
    const a = await build(app, {
      contextDir: dir,
      cacheDir: join(dir, `${format}-a`),
      output,
      cacheTo: [`type=local,dest=${cache},mode=max,compression=${format}`],
    });
    const index = JSON.parse(readFileSync(join(cache, 'index.json'), 'utf8'));
    const hex = (d: string) => d.slice('sha256:'.length);
    const manifest = JSON.parse(
      readFileSync(join(cache, 'blobs/sha256', hex(index.manifests[0].digest)), 'utf8'),
    );
    // the two step layers, then their listings (what a lazy hit replays instead of the tar)
    expect(manifest.layers.map((l: { mediaType: string }) => l.mediaType)).toEqual([
      `application/vnd.oci.image.layer.v1.tar+${format}`,
      `application/vnd.oci.image.layer.v1.tar+${format}`,
      'application/vnd.wharf.cache.views.v1+json+gzip',
    ]);
    const b = await build(app, {
      contextDir: dir,
      cacheDir: join(dir, `${format}-b`),
      output: { ...output, dest: join(dir, `out-${format}-b`) },
      cacheFrom: [`type=local,src=${cache}`],
    });
    expect(b.steps.every((s) => s.cached)).toBe(true);
    expect(b.digest).toBe(a.digest);
  },
);

/** A cold build of `app` into `<name>-a` exporting to `<name>-cache`, with an oci output. */
async function coldBuild(name: string, cacheOptions = '') {
  writeFileSync(join(dir, 'a.txt'), 'a\n');
  writeFileSync(join(dir, 'b.txt'), 'b\n');
  const cache = join(dir, `${name}-cache`);
  const built = await build(app, {
    contextDir: dir,
    cacheDir: join(dir, `${name}-a`),
    output: { type: 'oci', dest: join(dir, `out-${name}-a`), names: [] },
    cacheTo: [`type=local,dest=${cache},mode=max${cacheOptions}`],
  });
  return { cache, digest: built.digest };
}
/** A JSON blob of an OCI layout. */
const blobJson = (layout: string, digest: string) =>
  JSON.parse(readFileSync(join(layout, 'blobs/sha256', digest.slice('sha256:'.length)), 'utf8'));

it('a hit is lazy: no blob is fetched until an output reads it, then the gzip form is used as is', async () => {
  const a = await coldBuild('lazy', ',compression=gzip');
  const blobs = (root: string) =>
    existsSync(join(root, 'blobs/sha256')) ? readdirSync(join(root, 'blobs/sha256')) : [];
  // no output: every step hits and nothing is downloaded
  const b = await build(app, {
    contextDir: dir,
    cacheDir: join(dir, 'lazy-b'),
    cacheFrom: [`type=local,src=${a.cache}`],
  });
  expect(b.steps.every((s) => s.cached)).toBe(true);
  expect(blobs(join(dir, 'lazy-b'))).toEqual([]);
  // an oci output: the cache's gzip blobs are the image's layers (no tar kept), same digest as cold
  const c = await build(app, {
    contextDir: dir,
    cacheDir: join(dir, 'lazy-c'),
    output: { type: 'oci', dest: join(dir, 'out-lazy-c'), names: [] },
    cacheFrom: [`type=local,src=${a.cache}`],
  });
  expect(c.digest).toBe(a.digest);
  const layers = blobJson(join(dir, 'out-lazy-c'), c.digest).layers.map((l: { digest: string }) =>
    l.digest.slice('sha256:'.length),
  );
  expect(blobs(join(dir, 'lazy-c')).sort()).toEqual([...layers].sort());
});

it('with an output to come (compressEarly), the lazy hits of the target are fetched during the build', async () => {
  const a = await coldBuild('prefetch', ',compression=gzip');
  const cacheDir = join(dir, 'prefetch-b');
  // the engine alone: no output reads the image afterwards, so what the store holds was prefetched
  const built = await buildImage(toGraph(app), {
    contextDir: dir,
    cacheDir,
    compressEarly: true,
    cacheFrom: [`type=local,src=${a.cache}`],
  });
  const gzipLayers = (await built.image.manifest()).layers.map((l) => l.digest.slice('sha256:'.length));
  expect(gzipLayers).toHaveLength(2);
  expect(readdirSync(join(cacheDir, 'blobs/sha256')).sort()).toEqual([...gzipLayers].sort());
});

it('a lazy hit whose blob is gone from the cache: a warning, the build starts over and runs the step', async () => {
  const a = await coldBuild('gone');
  // remove b.txt's layer (a tar: its digest is the diffID in the image config) from the cache
  const out = join(dir, 'out-gone-a');
  const config = blobJson(out, blobJson(out, a.digest).config.digest);
  const first = (config.rootfs.diff_ids as string[])[0] as string;
  rmSync(join(a.cache, 'blobs/sha256', first.slice('sha256:'.length)));
  const events: BuildEvent[] = [];
  const b = await build(app, {
    contextDir: dir,
    cacheDir: join(dir, 'gone-b'),
    output: { type: 'oci', dest: join(dir, 'out-gone-b'), names: [] },
    cacheFrom: [`type=local,src=${a.cache}`],
    onEvent: (e) => events.push(e),
  });
  expect(b.digest).toBe(a.digest);
  // the first attempt's steps are reported too: the last report of the step is the second attempt's
  expect(b.steps.findLast((s) => s.text === 'COPY b.txt /b.txt')?.cached).toBe(false);
  expect(events).toContainEqual(
    expect.objectContaining({
      type: 'warning',
      message: expect.stringMatching(/could not be fetched when needed .* the build starts over/),
    }),
  );
});

it("the base image's listings travel with the cache: a fresh machine plans on the base without unpacking it", async () => {
  writeFileSync(join(dir, 'b.txt'), 'b\n');
  const layer = await fileLayer({ 'etc/passwd': 'root:x:0:0::/root:/bin/sh\n', 'srv/data/x': 'x' });
  await writeLayout(join(dir, 'base-layout'), appendLayers(emptyImage(), { layer }));
  const diffId = await layer.diffId();
  const onBase = stage('on-base')
    .from('oci-layout://base-layout')
    .workdir('/srv/data/app')
    .copy('b.txt', 'b.txt');
  const cache = join(dir, 'base-cache');
  const output = { type: 'oci', dest: join(dir, 'out-base-a'), names: [] } as const;
  const a = await build(onBase, {
    contextDir: dir,
    cacheDir: join(dir, 'base-a'),
    output,
    cacheTo: [`type=local,dest=${cache},compression=gzip`],
  });
  // machine A unpacked the base to plan on it (its tar is kept in the store)
  expect(existsSync(join(dir, 'base-a/blobs/sha256', diffId.slice('sha256:'.length)))).toBe(true);
  const b = await build(onBase, {
    contextDir: dir,
    cacheDir: join(dir, 'base-b'),
    output: { ...output, dest: join(dir, 'out-base-b') },
    cacheFrom: [`type=local,src=${cache}`],
  });
  expect(b.steps.map((s) => [s.text, s.cached])).toEqual([
    ['WORKDIR /srv/data/app', true],
    ['COPY b.txt b.txt', true],
  ]);
  expect(b.digest).toBe(a.digest);
  // machine B planned WORKDIR and COPY on the cache's listing of the base: its tar was never made
  expect(existsSync(join(dir, 'base-b/blobs/sha256', diffId.slice('sha256:'.length)))).toBe(false);
  // and exports the listing on: a third machine importing B's cache does not unpack the base either
  const again = join(dir, 'base-cache-b');
  await build(onBase, {
    contextDir: dir,
    cacheDir: join(dir, 'base-c'),
    cacheFrom: [`type=local,src=${cache}`],
    cacheTo: [`type=local,dest=${again},compression=gzip`],
  });
  const d = await build(onBase, {
    contextDir: dir,
    cacheDir: join(dir, 'base-d'),
    output: { ...output, dest: join(dir, 'out-base-d') },
    cacheFrom: [`type=local,src=${again}`],
  });
  expect(d.digest).toBe(a.digest);
  expect(existsSync(join(dir, 'base-d/blobs/sha256', diffId.slice('sha256:'.length)))).toBe(false);
});
