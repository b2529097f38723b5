import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extract } from 'tar-stream';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { hashFiles } from '../cache/hash-pool.js';
import { lowerDockerfile } from '../dockerfile/index.js';
import { define, toGraph } from '../dsl/graph.js';
import { stage } from '../dsl/stage.js';
import { context } from '../dsl/values.js';
import type { BuildEvent } from '../events.js';
import type { Image } from '../image/types.js';
import { formatPlatform, hostPlatform, parsePlatform } from '../oci/index.js';
import { openStore } from '../store/store.js';
import { validateImage } from '../testing/validate.js';
import { buildGraph, buildImage, buildPlatforms } from './build.js';

// Passed through, and watched: write-first COPY reads no file twice, so it never needs the pool.
vi.mock('../cache/hash-pool.js', async (original) => {
  const actual = await original<typeof import('../cache/hash-pool.js')>();
  return { ...actual, hashFiles: vi.fn(actual.hashFiles) };
});

const scratchDir = mkdtempSync(join(tmpdir(), 'wharf-engine-'));
afterAll(() => rmSync(scratchDir, { recursive: true, force: true }));

function makeContext(files: Record<string, string>): string {
  const dir = mkdtempSync(join(scratchDir, 'ctx-'));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

/** `path type mode uid:gid` for each entry of each layer, layer by layer. */
async function layerListings(image: Image): Promise<string[][]> {
  const out: string[][] = [];
  for (const layer of await image.layers()) {
    const ex = extract();
    (await layer.uncompressed()).pipe(ex);
    const lines: string[] = [];
    for await (const entry of ex) {
      const h = entry.header;
      lines.push(
        `${h.name} ${h.type} ${(h.mode ?? 0).toString(8)} ${h.uid}:${h.gid}${h.linkname ? ` -> ${h.linkname}` : ''}`,
      );
      entry.resume();
    }
    out.push(lines);
  }
  return out;
}

describe('buildGraph (direct backend)', async () => {
  const store = await openStore({ root: join(scratchDir, 'store') });

  it('builds FROM scratch with COPY, WORKDIR and metadata into a valid, reproducible image', async () => {
    const dir = makeContext({ 'hello.txt': 'hi\n', 'static/index.html': '<p>x</p>\n', 'notes.local': 'no' });
    const app = stage('app')
      .from('scratch')
      .workdir('/app')
      .copy('hello.txt', '/usr/local/share/hello.txt', { chmod: '644' })
      .copy('static/', './static/')
      .env({ GREETING: 'hi', WHERE: '$GREETING there' })
      .label({ title: 'app' })
      .user('1000:1000')
      .expose(8080)
      .cmd(['/hello']);
    const graph = toGraph(define({ target: app, context: context('.').ignore(['*.local']) }));
    const events: string[] = [];
    const result = await buildGraph(graph, {
      contextDir: dir,
      store,
      epoch: 0,
      onEvent: (e) => events.push(e.type),
    });
    await validateImage(result.image);
    const config = await result.image.config();
    expect(config.config).toEqual({
      Env: [
        'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        'GREETING=hi',
        'WHERE= there', // one ENV expands against the environment before it, as BuildKit does
      ],
      WorkingDir: '/app',
      Labels: { title: 'app' },
      User: '1000:1000',
      ExposedPorts: { '8080/tcp': {} },
      Cmd: ['/hello'],
    });
    expect(config.created).toBe('1970-01-01T00:00:00Z');
    expect(config.history?.map((h) => [h.created_by, h.empty_layer ?? false])).toEqual([
      ['WORKDIR /app', false],
      ['COPY --chmod=644 hello.txt /usr/local/share/hello.txt', false],
      ['COPY static/ ./static/', false],
      ['ENV GREETING=hi WHERE="$GREETING there"', true],
      ['LABEL title=app', true],
      ['USER 1000:1000', true],
      ['EXPOSE 8080', true],
      ['CMD ["/hello"]', true],
    ]);
    expect(await layerListings(result.image)).toEqual([
      ['app/ directory 755 0:0'],
      [
        'usr/ directory 755 0:0',
        'usr/local/ directory 755 0:0',
        'usr/local/share/ directory 755 0:0',
        'usr/local/share/hello.txt file 644 0:0',
      ],
      ['app/ directory 755 0:0', 'app/static/ directory 755 0:0', 'app/static/index.html file 644 0:0'],
    ]);
    expect(events).toContain('step-finished');

    // Same inputs, another folder: the same digest.
    const again = makeContext({ 'hello.txt': 'hi\n', 'static/index.html': '<p>x</p>\n' });
    const second = await buildGraph(graph, { contextDir: again, store, epoch: 0 });
    expect(second.digest).toBe(result.digest);
  });

  it('multi-stage FROM another stage; ENTRYPOINT clears an inherited CMD', async () => {
    const dir = makeContext({ 'a.txt': 'a' });
    const base = stage('base').from('scratch').copy('a.txt', '/a.txt').cmd(['/inherited']);
    const app = stage('app').from(base).entrypoint(['/entry']);
    const result = await buildGraph(toGraph(app), { contextDir: dir, store, epoch: 0 });
    const config = await result.image.config();
    expect(config.config?.Cmd).toBeNull();
    expect(config.config?.Entrypoint).toEqual(['/entry']);
    expect(config.rootfs.diff_ids).toHaveLength(1);
  });

  it('gzips target COPY layers while writing them: same digest as compressing afterwards', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 40; i++)
      files[`mods/m${i}.js`] = `export const v${i} = "${'x'.repeat(60_000 + i)}";\n`;
    const dir = makeContext(files);
    const graph = toGraph(
      define({ target: stage('app').from('scratch').copy('mods', '/app/mods'), context: context('.') }),
    );
    // buildImage without compressEarly writes tars only; the digest then gzips them afterwards.
    const later = await openStore({ root: join(scratchDir, 'store-gzip-later') });
    const built = await buildImage(graph, { contextDir: dir, store: later, epoch: 0 });
    const expected = await built.image.digest();
    const early = await openStore({ root: join(scratchDir, 'store-gzip-early') });
    // The gzip is made in the step's own pass: its record exists when the step reports it is done.
    let recordsWhenDone = -1;
    const result = await buildGraph(graph, {
      contextDir: dir,
      store: early,
      epoch: 0,
      onEvent: (event) => {
        if (event.type === 'step-finished' && event.layer)
          recordsWhenDone = readdirSync(join(early.root, 'compressed')).length;
      },
    });
    expect(result.digest).toBe(expected);
    expect(recordsWhenDone).toBe(1);
  });

  it('names the stage and instruction when a step fails, with the build.ts line', async () => {
    const dir = makeContext({});
    const app = stage('app').from('scratch').copy('missing.txt', '/m');
    await expect(buildGraph(toGraph(app), { contextDir: dir, store })).rejects.toThrowError(
      /stage "app", instruction 1: .*missing\.txt/,
    );
  });

  it('rejects a source that escapes the context through a symlink', async () => {
    const dir = makeContext({ 'ok.txt': 'x' });
    symlinkSync('/etc', join(dir, 'escape'));
    const app = stage('app').from('scratch').copy('escape/passwd', '/p');
    await expect(buildGraph(toGraph(app), { contextDir: dir, store })).rejects.toThrowError(/outside/);
  });

  it('warns, and still builds, when its file digest cache cannot be saved', async () => {
    // More files than are hashed without the stat cache, so it has lines to save.
    const dir = makeContext(
      Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`f${i}.txt`, `${i}\n`])),
    );
    const root = join(scratchDir, 'unsaveable-digests');
    mkdirSync(join(root, 'file-digests.json'), { recursive: true }); // a directory: every write fails
    const warnings: string[] = [];
    const result = await buildGraph(toGraph(stage('app').from('scratch').copy('.', '/files/')), {
      contextDir: dir,
      store: await openStore({ root }),
      epoch: 0,
      onEvent: (e) => {
        if (e.type === 'warning') warnings.push(e.message);
      },
    });
    expect(result.digest).toMatch(/^sha256:/);
    expect(readdirSync(root).filter((name) => name.includes('file-digests'))).toEqual(['file-digests.json']);
    expect(warnings).toContainEqual(
      expect.stringMatching(/^could not save the file digest cache .*file-digests\.json: /),
    );
  });

  it('reuses cached layers on a warm build and explains every miss', async () => {
    const dir = makeContext({ 'package.json': '{}', 'src/app.ts': 'v1', 'src/util.ts': 'u' });
    const app = stage('app')
      .from('scratch')
      .arg('VERSION', '1')
      .workdir('/app')
      .copy('package.json', './')
      .copy('src', './src')
      .label({ version: '$VERSION' });
    const graph = toGraph(app);
    const cacheStore = await openStore({ root: join(scratchDir, 'cache-test') });
    type Finished = { step: number; cached?: boolean; miss?: string };
    const run = async (buildArgs: Record<string, string> = {}, noCache = false) => {
      const steps: Finished[] = [];
      const result = await buildGraph(graph, {
        contextDir: dir,
        store: cacheStore,
        epoch: 0,
        buildArgs,
        noCache,
        onEvent: (e) => {
          if (e.type === 'step-finished' && e.layer)
            steps.push({ step: e.step, cached: e.cached, miss: e.miss });
        },
      });
      return { digest: result.digest, steps: steps.sort((a, b) => a.step - b.step) };
    };
    const cold = await run();
    expect(cold.steps.map((s) => s.cached ?? false)).toEqual([false, false, false]);
    const warm = await run();
    expect(warm.digest).toBe(cold.digest);
    // Layers taken from the step cache are stored as tars; the built image still lists them gzipped.
    const warmImage = await buildGraph(graph, { contextDir: dir, store: cacheStore, epoch: 0 });
    expect((await warmImage.image.manifest()).layers.map((l) => l.mediaType)).toEqual([
      'application/vnd.oci.image.layer.v1.tar+gzip',
      'application/vnd.oci.image.layer.v1.tar+gzip',
      'application/vnd.oci.image.layer.v1.tar+gzip',
    ]);
    expect(warm.steps.map((s) => s.cached)).toEqual([true, true, true]);

    writeFileSync(join(dir, 'src/app.ts'), 'v2');
    const changed = await run();
    expect(changed.steps.map((s) => s.cached ?? false)).toEqual([true, true, false]);
    expect(changed.steps[2]?.miss).toBe('context file src/app.ts changed (copied to /app/src/app.ts)');

    writeFileSync(join(dir, 'package.json'), '{"name":"x"}');
    const earlier = await run();
    expect(earlier.steps.map((s) => s.miss)).toEqual([
      undefined,
      'context file package.json changed (copied to /app/package.json)',
      'an earlier step changed',
    ]);

    // The file timestamps (SOURCE_DATE_EPOCH) are part of a layer's bytes, so part of its key.
    const epochSteps: Finished[] = [];
    await buildGraph(graph, {
      contextDir: dir,
      store: cacheStore,
      epoch: 1_700_000_000,
      onEvent: (e) => {
        if (e.type === 'step-finished' && e.layer)
          epochSteps.push({ step: e.step, cached: e.cached, miss: e.miss });
      },
    });
    expect(epochSteps.every((s) => !s.cached)).toBe(true);
    expect(epochSteps.sort((a, b) => a.step - b.step)[0]?.miss).toBe('SOURCE_DATE_EPOCH');

    const arg = await run({ VERSION: '2' });
    expect(arg.steps[0]?.miss).toBe('build arg VERSION "1" → "2"; SOURCE_DATE_EPOCH');
    expect((await run({}, true)).steps.map((s) => s.miss)).toEqual([
      '--no-cache',
      '--no-cache',
      '--no-cache',
    ]);
  });
});

describe('write-first COPY (many files new to the stat cache)', async () => {
  it('writes the layer before keying it, with the same digest, key and miss explanations', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 100; i++) files[`lib/m${String(i).padStart(3, '0')}.js`] = `module.exports = ${i};\n`;
    const dir = makeContext({ ...files, 'lib/empty.js': '' });
    const graph = toGraph(stage('app').from('scratch').workdir('/app').copy('lib', './lib'));
    const cacheStore = await openStore({ root: join(scratchDir, 'write-first') });
    const run = async (noCache = false) => {
      const steps: { step: number; cached?: boolean; miss?: string }[] = [];
      const result = await buildGraph(graph, {
        contextDir: dir,
        store: cacheStore,
        epoch: 0,
        noCache,
        onEvent: (e) => {
          if (e.type === 'step-finished' && e.layer)
            steps.push({ step: e.step, cached: e.cached, miss: e.miss });
        },
      });
      return { digest: result.digest, steps: steps.sort((a, b) => a.step - b.step) };
    };
    const writes = vi.spyOn(cacheStore, 'putWriter');
    vi.mocked(hashFiles).mockClear();
    const cold = await run(); // 101 unknown files: written first, hashed from the tar's bytes
    expect(cold.steps.map((s) => s.cached ?? false)).toEqual([false, false]);
    expect(hashFiles).not.toHaveBeenCalled();
    // The stat cache learned every file from the writer: --no-cache now keys first, then writes.
    const keyedFirst = await run(true);
    expect(keyedFirst.digest).toBe(cold.digest);
    writes.mockClear();
    const warm = await run();
    expect(warm.digest).toBe(cold.digest);
    expect(warm.steps.map((s) => s.cached)).toEqual([true, true]);
    expect(writes).not.toHaveBeenCalled();

    writeFileSync(join(dir, 'lib/m042.js'), 'module.exports = "changed";\n');
    const changed = await run();
    expect(changed.steps[1]?.miss).toBe('context file lib/m042.js changed (copied to /app/lib/m042.js)');

    // Every file new again (a fresh checkout: other inodes, same bytes): written first, then a hit.
    const copy = makeContext({
      ...files,
      'lib/empty.js': '',
      'lib/m042.js': 'module.exports = "changed";\n',
    });
    const fresh = await buildGraph(graph, { contextDir: copy, store: cacheStore, epoch: 0 });
    expect(fresh.digest).toBe(changed.digest);
  });

  it('writes the layer once for two platforms', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 80; i++) files[`f${i}.txt`] = `${i}\n`;
    const dir = makeContext(files);
    const store = await openStore({ root: join(scratchDir, 'write-first-platforms') });
    const writes = vi.spyOn(store, 'putWriter');
    const graph = toGraph(stage('app').from('scratch').copy('.', '/data/'));
    const platforms = [parsePlatform('linux/amd64'), parsePlatform('linux/arm64')];
    const built = await buildPlatforms(graph, { contextDir: dir, store, epoch: 0, platforms });
    const diffIds = await Promise.all(
      built.map(async (b) => (await b.uncompressedImage.config()).rootfs.diff_ids),
    );
    expect(diffIds[1]).toEqual(diffIds[0]);
    expect(writes.mock.calls.length).toBe(1);
  });
});

describe('buildPlatforms', () => {
  it('builds a target-independent $BUILDPLATFORM stage once for every platform, the rest per platform', async () => {
    const dir = makeContext({ 'a.txt': 'a\n' });
    const tools = stage('tools').from('scratch', { platform: '$BUILDPLATFORM' }).copy('a.txt', '/a.txt');
    const cross = stage('cross')
      .from('scratch', { platform: '$BUILDPLATFORM' })
      .arg('TARGETARCH')
      .copy('a.txt', '/for-$TARGETARCH.txt');
    const app = stage('app').from('scratch').copy(tools, '/a.txt', '/tools.txt').copy(cross, '/', '/cross/');
    const events: BuildEvent[] = [];
    const built = await buildPlatforms(toGraph(app), {
      contextDir: dir,
      cacheDir: join(scratchDir, 'platforms-store'),
      platforms: [parsePlatform('linux/amd64'), parsePlatform('linux/arm64')],
      onEvent: (e) => events.push(e),
    });
    const native = formatPlatform({ ...hostPlatform(), os: 'linux' });
    const stagesRun = events
      .filter((e) => e.type === 'step-finished')
      .map((e) => (e as { stage: string }).stage)
      .sort();
    expect(stagesRun).toEqual(
      [
        `${native} tools`, // once, shared
        'linux/amd64 cross', // reads TARGETARCH: natively, once per target (ARG and COPY)
        'linux/amd64 cross',
        'linux/arm64 cross',
        'linux/arm64 cross',
        'linux/amd64 app',
        'linux/amd64 app',
        'linux/arm64 app',
        'linux/arm64 app',
      ].sort(),
    );
    expect(built.map((b) => formatPlatform(b.platform))).toEqual(['linux/amd64', 'linux/arm64']);
    const configs = await Promise.all(built.map((b) => b.uncompressedImage.config()));
    expect(configs.map((c) => c.architecture)).toEqual(['amd64', 'arm64']);
    const listings = await Promise.all(built.map((b) => layerListings(b.uncompressedImage)));
    expect(listings[0]?.flat()).toContain('cross/for-amd64.txt file 644 0:0');
    expect(listings[1]?.flat()).toContain('cross/for-arm64.txt file 644 0:0');
  });
});

describe('buildPlatforms shares layers that do not depend on the platform', () => {
  const platforms = [parsePlatform('linux/amd64'), parsePlatform('linux/arm64')];

  /** Builds `graph` for both platforms into a fresh store, counting the blobs written (each a tar here). */
  async function countWrites(graph: ReturnType<typeof toGraph>, dir: string, name: string) {
    const store = await openStore({ root: join(scratchDir, name) });
    const writes = vi.spyOn(store, 'putWriter');
    const built = await buildPlatforms(graph, { contextDir: dir, store, epoch: 0, platforms });
    const diffIds = await Promise.all(
      built.map(async (b) => (await b.uncompressedImage.config()).rootfs.diff_ids),
    );
    return { built, diffIds, writes: writes.mock.calls.length };
  }

  it('writes a COPY and a WORKDIR layer once for both platforms when their entries are the same', async () => {
    const dir = makeContext({ 'a.txt': 'a\n', 'big.bin': 'x'.repeat(100_000) });
    const app = stage('app').from('scratch').workdir('/app').copy('a.txt', './').copy('big.bin', '/data/');
    const { built, diffIds, writes } = await countWrites(toGraph(app), dir, 'share-same');
    expect(diffIds[0]).toHaveLength(3);
    expect(diffIds[1]).toEqual(diffIds[0]);
    expect(writes).toBe(3); // three layers, not six
    expect((await built[1]?.uncompressedImage.config())?.architecture).toBe('arm64');
  });

  it('writes the layer per platform when the parent filesystem makes the entries differ', async () => {
    const dir = makeContext({
      passwd: 'amd64:x:1000:1000::/:/bin/sh\narm64:x:2000:2000::/:/bin/sh\n',
      'a.txt': 'a\n',
    });
    // WORKDIR makes /app owned by the USER, a different one per platform; the COPY passes through
    // /app, and BuildKit's layer holds /app with its existing owner, so those two layers must differ.
    const app = stage('app')
      .from('scratch')
      .copy('passwd', '/etc/passwd')
      .arg('TARGETARCH')
      .user('$TARGETARCH')
      .workdir('/app')
      .copy('a.txt', '/app/a.txt');
    const { built, diffIds, writes } = await countWrites(toGraph(app), dir, 'share-differs');
    expect(diffIds[0]?.[0]).toBe(diffIds[1]?.[0]); // /etc/passwd: shared
    expect(diffIds[0]?.[2]).not.toBe(diffIds[1]?.[2]);
    expect(writes).toBe(5);
    const [a, b] = await Promise.all(built.map((x) => layerListings(x.uncompressedImage)));
    expect(a?.[2]).toEqual(['app/ directory 755 1000:1000', 'app/a.txt file 644 0:0']);
    expect(b?.[2]).toEqual(['app/ directory 755 2000:2000', 'app/a.txt file 644 0:0']);
  });
});

describe('buildPlatforms with a base stage named by the platform', () => {
  it('FROM base-${TARGETARCH} uses base-amd64 for amd64 and base-arm64 for arm64 in one run, as BuildKit', async () => {
    const dir = makeContext({ 'a.txt': 'a\n', 'amd.txt': 'amd\n', 'arm.txt': 'arm\n' });
    const amd64 = stage('base-amd64').from('scratch').copy('amd.txt', '/which');
    const arm64 = stage('base-arm64').from('scratch').copy('arm.txt', '/which');
    // A native stage FROM a platform-named stage differs per target too: never one shared build of it.
    const tools = stage('tools')
      .from('base-${TARGETARCH}', { platform: '$BUILDPLATFORM' })
      .copy('a.txt', '/a');
    const app = stage('app').from('base-${TARGETARCH}').copy(tools, '/which', '/tools-which');
    const graph = toGraph(
      define({ target: app, targets: { tools, 'base-amd64': amd64, 'base-arm64': arm64 } }),
    );
    const built = await buildPlatforms(graph, {
      contextDir: dir,
      store: await openStore({ root: join(scratchDir, 'platform-named') }),
      epoch: 0,
      platforms: [parsePlatform('linux/amd64'), parsePlatform('linux/arm64')],
    });
    const files = await Promise.all(
      built.map(async (b) => {
        const out: string[] = [];
        for (const layer of await b.uncompressedImage.layers()) {
          const ex = extract();
          (await layer.uncompressed()).pipe(ex);
          for await (const entry of ex) {
            const chunks: Buffer[] = [];
            for await (const chunk of entry) chunks.push(chunk as Buffer);
            out.push(`${entry.header.name}=${Buffer.concat(chunks).toString().trim()}`);
          }
        }
        return out;
      }),
    );
    expect(files[0]).toEqual(['which=amd', 'tools-which=amd']);
    expect(files[1]).toEqual(['which=arm', 'tools-which=arm']);
    expect((await built[1]?.uncompressedImage.config())?.architecture).toBe('arm64');
  });
});

describe('COPY --from a --build-context folder', async () => {
  const store = await openStore({ root: join(scratchDir, 'store-build-context') });

  it('is keyed on the folder’s files, so a changed file is copied again', async () => {
    const extra = makeContext({ 'f.txt': 'one\n' });
    const graph = lowerDockerfile('FROM scratch\nCOPY --from=extra f.txt /f.txt\n');
    const build = () =>
      buildGraph(graph, { contextDir: makeContext({}), store, epoch: 0, buildContexts: { extra } });
    const first = await build();
    writeFileSync(join(extra, 'f.txt'), 'two\n');
    const second = await build();
    expect(second.image.digest()).not.toBe(first.image.digest());
    const [layer] = await second.image.layers();
    if (!layer) throw new Error('the image has no layer');
    const ex = extract();
    (await layer.uncompressed()).pipe(ex);
    for await (const entry of ex) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      expect(`${entry.header.name}: ${Buffer.concat(chunks)}`).toBe('f.txt: two\n');
    }
  });
});
