import { closeSync, mkdtempSync, openSync, readdirSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { dockerArchiveManifest } from './archive/docker-archive.js';
import { openOciArchive, readOciArchive } from './archive/oci-archive.js';
import { build } from './build.js';
import { stage } from './dsl/stage.js';
import type { BuildEvent } from './events.js';

/** Whether any blob in the store at `root` is gzip data (starts with 1f 8b). */
function storeHasGzip(root: string): boolean {
  const dir = join(root, 'blobs', 'sha256');
  return readdirSync(dir).some((name) => {
    const head = Buffer.alloc(2);
    const fd = openSync(join(dir, name), 'r');
    try {
      readSync(fd, head, 0, 2, 0);
    } finally {
      closeSync(fd);
    }
    return head[0] === 0x1f && head[1] === 0x8b;
  });
}

const dir = mkdtempSync(join(tmpdir(), 'wharf-build-api-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('builds a stage value, writes the output, and reports digest, size and step timings', async () => {
  writeFileSync(join(dir, 'hello.txt'), 'hi\n');
  const app = stage('app').from('scratch').copy('hello.txt', '/hello.txt').cmd(['/hello']);
  const dest = join(dir, 'out.tar');
  const options = {
    contextDir: dir,
    cacheDir: join(dir, 'cache'),
    output: { type: 'oci-archive', dest, names: [] },
  } as const;
  const first = await build(app, options);
  expect(first.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  expect(first.size).toBeGreaterThan(0);
  expect(first.steps.map((s) => [s.text, s.cached])).toEqual([
    ['COPY hello.txt /hello.txt', false],
    ['CMD ["/hello"]', false],
  ]);
  expect(await (await readOciArchive(dest)).digest()).toBe(first.digest);
  const second = await build(app, options);
  expect(second.steps[0]?.cached).toBe(true);
});

it('refuses a misspelt option, naming the closest ones and listing the valid ones (it was silently ignored)', async () => {
  const app = stage('app').from('scratch').cmd(['/hello']);
  const misspelt = { contextDir: dir, cachedir: join(dir, 'cache'), outputs: 'type=oci' };
  await expect(build(app, misspelt as never)).rejects.toThrow(
    expect.objectContaining({
      code: 'BUILD_UNKNOWN_OPTION',
      message: 'build(): unknown options "cachedir", "outputs"',
      hint: expect.stringMatching(
        /^did you mean "cacheDir", "output"\? the options are contextDir, output, tags, .*cacheDir, .*onEvent$/,
      ),
    }),
  );
});

it('with only a docker-archive output compresses nothing and returns the image ID docker load reports', async () => {
  writeFileSync(join(dir, 'big.txt'), 'wharf '.repeat(50_000));
  const app = stage('app').from('scratch').copy('big.txt', '/big.txt').cmd(['/hello']);
  const cacheDir = join(dir, 'docker-only-cache');
  const dest = join(dir, 'docker.tar');
  const events: BuildEvent[] = [];
  const result = await build(app, {
    contextDir: dir,
    cacheDir,
    output: `type=docker-archive,dest=${dest}`,
    tags: ['wharf-test/app:1'],
    onEvent: (e) => events.push(e),
  });
  // docker load names the image by its config's digest: the archive's Config entry.
  const [entry] = await dockerArchiveManifest(dest);
  expect(`sha256:${entry?.Config.replace(/\.json$/, '')}`).toBe(result.imageId);
  expect(result.digest).toBe(result.imageId);
  expect(result.manifestDigest).toBeUndefined();
  expect(result.platforms).toEqual([
    { platform: expect.stringMatching(/^linux\//), imageId: result.imageId },
  ]);
  expect(result.outputs).toEqual([
    { type: 'docker-archive', dest, digest: result.imageId, references: ['wharf-test/app:1'] },
  ]);
  expect(events.filter((e) => e.type === 'output-written')).toEqual([
    { type: 'output-written', kind: 'docker-archive', dest, digest: result.imageId },
  ]);
  expect(storeHasGzip(cacheDir)).toBe(false);
  // An oci-archive of the same build does hold gzip layers: the check above can see them.
  const oci = await build(app, {
    contextDir: dir,
    cacheDir,
    output: `type=oci-archive,dest=${join(dir, 'o.tar')}`,
  });
  expect(oci.imageId).toBe(result.imageId);
  expect(oci.manifestDigest).toBe(oci.digest);
  expect(storeHasGzip(cacheDir)).toBe(true);
});

it('refuses a docker-archive of several platforms before any work, naming the fix', async () => {
  const app = stage('app').from('scratch').cmd(['/hello']);
  await expect(
    build(app, {
      contextDir: dir,
      cacheDir: join(dir, 'refused-cache'),
      platforms: ['linux/amd64', 'linux/arm64'],
      output: `type=docker-archive,dest=${join(dir, 'multi.tar')}`,
    }),
  ).rejects.toMatchObject({
    message: expect.stringContaining('holds one platform, and this build has several'),
    hint: expect.stringContaining('type=oci'),
  });
});

it('builds several platforms into one OCI index, each image for its platform', async () => {
  writeFileSync(join(dir, 'hello.txt'), 'hi\n');
  const app = stage('app').from('scratch').copy('hello.txt', '/hello.txt').cmd(['/hello']);
  const dest = join(dir, 'multi-oci.tar');
  const result = await build(app, {
    contextDir: dir,
    cacheDir: join(dir, 'cache'),
    platforms: ['linux/amd64', 'linux/arm64'],
    output: `type=oci-archive,dest=${dest}`,
  });
  expect(result.indexDigest).toMatch(/^sha256:/);
  expect(result.digest).toBe(result.indexDigest);
  expect(result.platforms.map((p) => p.platform)).toEqual(['linux/amd64', 'linux/arm64']);
  const top = await openOciArchive(dest);
  const [nested] = await top.indexes();
  expect(nested?.descriptor.digest).toBe(result.indexDigest);
  const images = await nested?.index.images();
  expect(images?.map((e) => [e.platform?.architecture, e.descriptor.digest])).toEqual([
    ['amd64', result.platforms[0]?.manifestDigest],
    ['arm64', result.platforms[1]?.manifestDigest],
  ]);
  // step timings name each platform's stage
  expect(new Set(result.steps.map((s) => s.stage))).toEqual(new Set(['linux/amd64 app', 'linux/arm64 app']));
});
