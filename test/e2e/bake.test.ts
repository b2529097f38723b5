// `wharf bake` end to end: a small monorepo (two services on one shared base stage whose RUN appends
// to a file in a cache mount) baked in one process and pushed to a loopback registry. The shared RUN
// runs once, the shared layers are uploaded once and mounted into the other repository, skopeo
// confirms the --metadata-file digests, and a second bake builds and uploads nothing; --changed-since
// skips the target whose inputs did not change; --backend docker bakes through docker build. Uploads
// and mounts are counted in the registry's own access log.
import { execFileSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build, cache, define, stage } from '@wharf/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheFlags } from '../helpers/cache-flags.js';
import { wharfAsync } from '../helpers/cli.js';
import { docker, dockerRun } from '../helpers/docker.js';
import { noDocker, testEnv } from '../helpers/env.js';
import { repoRoot, tempDir } from '../helpers/paths.js';
import { type Registry, startRegistry } from '../helpers/registry.js';
import { skopeoInspect } from '../helpers/tools.js';

/** Every file named `name` under `dir`. */
function findFiles(dir: string, name: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    const stat = statSync(path, { throwIfNoEntry: false });
    if (!stat) return [];
    if (stat.isDirectory()) return findFiles(path, name);
    return entry === name ? [path] : [];
  });
}

describe.skipIf(noDocker())('wharf bake', () => {
  let registry: Registry;
  let dir: string;
  let cacheDir: string;
  beforeAll(async () => {
    registry = await startRegistry({ accessLog: true });
    dir = tempDir();
    cacheDir = tempDir();
    writeFileSync(join(dir, 'api.txt'), 'api\n');
    writeFileSync(join(dir, 'web.txt'), 'web\n');
    writeFileSync(
      join(dir, 'build.ts'),
      [
        "import { cache, define, stage } from '@wharf/core';",
        "const base = stage('base').from('busybox')",
        "  .run('echo ran >> /counter/runs && dd if=/dev/urandom of=/shared.bin bs=1k count=256', { mounts: [cache('/counter')] });",
        "const api = stage('api').from(base).copy('api.txt', '/srv/').cmd(['cat', '/srv/api.txt']);",
        "const web = stage('web').from(base).copy('web.txt', '/srv/').cmd(['cat', '/srv/web.txt']);",
        'export default define({',
        '  targets: {',
        `    api: { stage: api, tags: ['${'${REGISTRY}'}/mono/api:1'] },`,
        `    web: { stage: web, tags: ['${'${REGISTRY}'}/mono/web:1'] },`,
        "    test: stage('test').from(base).run('true'),",
        '  },',
        "  groups: { default: ['api', 'web'] },",
        '});',
        '',
      ]
        .join('\n')
        .replaceAll('${REGISTRY}', registry.host),
    );
  });
  afterAll(async () => {
    await registry?.stop();
  });

  const bake = (...args: string[]) =>
    wharfAsync(['bake', join(dir, 'build.ts'), ...cacheFlags(cacheDir), ...args]);

  it('--print shows the resolved plan as stable JSON, --set applied, without building', async () => {
    const printed = await bake('--print', '--set', 'web.tags=r.example/web:dev', '--set', '*.args.V=2');
    expect(printed.stderr).toBe('');
    expect(printed.code).toBe(0);
    expect(JSON.parse(printed.stdout)).toEqual({
      group: { default: { targets: ['api', 'web'] } },
      target: {
        api: {
          args: { V: '2' },
          labels: {},
          output: [],
          platforms: [],
          tags: [`${registry.host}/mono/api:1`],
        },
        web: { args: { V: '2' }, labels: {}, output: [], platforms: [], tags: ['r.example/web:dev'] },
      },
    });
    expect((await bake('--print', '--set', 'web.tags=r.example/web:dev', '--set', '*.args.V=2')).stdout).toBe(
      printed.stdout,
    );
    expect(findFiles(cacheDir, 'runs')).toEqual([]);
    const bad = await bake('--print', 'wbe');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/no target or group named "wbe".*\n.*did you mean "web"/);
  });

  it('--push: the shared RUN runs once, shared blobs go up once and are mounted; skopeo confirms the metadata', async () => {
    const metadataFile = join(dir, 'metadata.json');
    const result = await bake('--push', '--metadata-file', metadataFile, '--progress', 'plain');
    expect(result.code, result.stderr).toBe(0);
    // The shared base RUN ran once for both targets (the cache mount's counter has one line).
    const counters = findFiles(cacheDir, 'runs');
    expect(counters).toHaveLength(1);
    expect(readFileSync(counters[0] as string, 'utf8')).toBe('ran\n');
    // busybox (1) + the shared RUN's layer (1) + each service's COPY layer and config (2 + 2): the
    // two shared layers go up once and are mounted into the second repository.
    expect(result.stderr).toMatch(/pushed: 6 blobs uploaded \([\d.]+ [kM]B\), 2 mounted \([\d.]+ [kM]B\)/);
    const metadata = JSON.parse(readFileSync(metadataFile, 'utf8')) as Record<
      string,
      Record<string, unknown>
    >;
    expect(Object.keys(metadata)).toEqual(['api', 'web']);
    for (const name of ['api', 'web']) {
      const ref = `${registry.host}/mono/${name}:1`;
      expect(metadata[name]?.['image.name']).toBe(ref);
      expect((await skopeoInspect(`docker://${ref}`)).Digest).toBe(metadata[name]?.['containerimage.digest']);
      expect(metadata[name]?.['wharf.pushed']).toEqual([
        `${ref}@${metadata[name]?.['containerimage.digest']}`,
      ]);
      expect(result.stdout).toContain(`${name} ${metadata[name]?.['containerimage.digest']}\n`);
    }
    expect(result.stderr).toMatch(/^TARGET +DIGEST +SIZE +CACHED +PUSHED$/m);
    // a second bake builds nothing and uploads nothing
    const again = await bake('--push', '--progress', 'plain');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/^api +sha256:[0-9a-f]{12} +[\d.]+ [kM]?B +2\/2 /m);
    expect(again.stderr).toMatch(/^web +sha256:[0-9a-f]{12} +[\d.]+ [kM]?B +2\/2 /m);
    expect(again.stderr).toMatch(
      /pushed: 0 blobs uploaded \(0 B\), 0 mounted \(0 B\), 8 already there \([\d.]+ MB\)/,
    );
    expect(readFileSync(counters[0] as string, 'utf8')).toBe('ran\n');
  });

  it('--changed-since REF builds only the targets whose inputs changed, and says why the others were skipped', async () => {
    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { cwd: dir });
    git('init', '-q', '-b', 'main');
    git('add', 'build.ts', 'api.txt', 'web.txt');
    git('commit', '-q', '-m', 'one');
    writeFileSync(join(dir, 'web.txt'), 'web, changed\n');
    const result = await bake('--changed-since', 'main', '--push', '--progress', 'plain');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^web sha256:[0-9a-f]{64}\n$/);
    expect(result.stderr).toMatch(/^web: built — web\.txt changed since main \([0-9a-f]{7}\)$/m);
    expect(result.stderr).toMatch(
      /^api: skipped — none of its inputs changed since main \([0-9a-f]{7}\) \(\d+ files? changed; it reads api\.txt\)$/m,
    );
    // only web's new COPY layer and config go up
    expect(result.stderr).toMatch(/pushed: 2 blobs uploaded \([\d.]+ k?B\), 0 mounted/);
    const bad = await bake('--changed-since', 'nope');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(
      /^wharf: --changed-since nope: no commit of that name in .*\n {2}hint: fetch it first/,
    );
    writeFileSync(join(dir, 'web.txt'), 'web\n');
  });

  it('--changed-since builds a target whose base tag moved since its image was pushed, and pulls the new base', async () => {
    const project = tempDir();
    const base = `${registry.host}/moving/base:1`;
    const pushBase = async (text: string) => {
      writeFileSync(join(project, 'base.txt'), text);
      const pushed = await wharfAsync([
        'build',
        join(project, 'base.ts'),
        ...cacheFlags(cacheDir),
        '--push',
        '-t',
        base,
      ]);
      expect(pushed.code, pushed.stderr).toBe(0);
    };
    writeFileSync(
      join(project, 'base.ts'),
      "import { stage } from '@wharf/core';\nexport default stage('b').from('busybox').copy('base.txt', '/base.txt');\n",
    );
    writeFileSync(join(project, 'app.txt'), 'app\n');
    writeFileSync(
      join(project, 'build.ts'),
      [
        "import { define, stage } from '@wharf/core';",
        'export default define({ targets: {',
        `  app: { stage: stage('app').from('${base}').copy('app.txt', '/app.txt'), tags: ['${registry.host}/moving/app:1'] },`,
        `  other: { stage: stage('other').from('busybox').copy('app.txt', '/app.txt'), tags: ['${registry.host}/moving/other:1'] },`,
        '} });',
        '',
      ].join('\n'),
    );
    execFileSync('git', ['init', '-q', '-b', 'main'], { cwd: project });
    execFileSync('git', ['add', '.'], { cwd: project });
    execFileSync(
      'git',
      ['-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-q', '-m', 'one'],
      { cwd: project },
    );
    const bakeHere = (...args: string[]) =>
      wharfAsync(['bake', join(project, 'build.ts'), ...cacheFlags(cacheDir, 'plain'), '--push', ...args]);
    await pushBase('one\n');
    expect((await bakeHere()).code).toBe(0);
    const still = await bakeHere('--changed-since', 'main');
    expect(still.stdout).toBe('');
    expect(still.stderr).toMatch(/^app: skipped — none of its inputs changed/m);
    await pushBase('two\n'); // the same tag, another image
    const movedRun = await bakeHere('--changed-since', 'main');
    expect(movedRun.code, movedRun.stderr).toBe(0);
    expect(movedRun.stderr).toMatch(
      new RegExp(
        `^app: built — its base ${base.replace(/[.]/g, '\\.')} now names other layers than .*app:1 was built on`,
        'm',
      ),
    );
    expect(movedRun.stderr).toMatch(/^other: skipped — none of its inputs changed/m);
    expect(movedRun.stdout).toMatch(/^app sha256:[0-9a-f]{64}\n$/);
    // the rebuilt image is on the new base, so the next run skips it again
    const after = await bakeHere('--changed-since', 'main');
    expect(after.stderr).toMatch(/^app: skipped — none of its inputs changed/m);
    await docker(['pull', `${registry.host}/moving/app:1`]);
    expect(await dockerRun({ image: `${registry.host}/moving/app:1`, cmd: ['cat', '/base.txt'] })).toBe(
      'two\n',
    );
  });

  it("--set TARGET.cache-to exports each target's cache to the registry; --cache-from gives every target a fresh machine's hits", async () => {
    const ref = (name: string) => `type=registry,ref=${registry.host}/mono-cache/${name}:cache`;
    const exported = await bake('--set', `api.cache-to=${ref('api')}`, '--set', `web.cache-to=${ref('web')}`);
    expect(exported.code, exported.stderr).toBe(0);
    for (const name of ['api', 'web'])
      expect(
        (await skopeoInspect(`docker://${registry.host}/mono-cache/${name}:cache`, { raw: true })).layers,
      ).toEqual(
        expect.arrayContaining([expect.objectContaining({ digest: expect.stringMatching(/^sha256:/) })]),
      );
    // a fresh cache dir importing both: every layer step of both targets hits, the shared RUN never runs
    const fresh = tempDir();
    const imported = await wharfAsync([
      'bake',
      join(dir, 'build.ts'),
      ...cacheFlags(fresh, 'plain'),
      '--cache-from',
      ref('api'),
      '--cache-from',
      ref('web'),
    ]);
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stderr).toMatch(/^api +sha256:[0-9a-f]{12} .* 2\/2 /m); // not pushed: no size
    expect(imported.stderr).toMatch(/^web +sha256:[0-9a-f]{12} .* 2\/2 /m); // not pushed: no size
    expect(findFiles(fresh, 'runs')).toEqual([]);
    // one ref for both: bake says the exports replace each other
    const shared = await bake('--cache-to', ref('shared'), '--progress', 'plain');
    expect(shared.code, shared.stderr).toBe(0);
    expect(shared.stderr).toMatch(
      /targets api, web all export their build cache to .*mono-cache\/shared:cache/,
    );
  });

  it('--backend docker: each target built by docker build, pushed by wharf; skopeo confirms the metadata', async () => {
    const metadataFile = join(dir, 'metadata-docker.json');
    const result = await bake(
      '--backend',
      'docker',
      '--push',
      '--set',
      `api.tags=${registry.host}/mono-docker/api:1`,
      '--set',
      `web.tags=${registry.host}/mono-docker/web:1`,
      '--metadata-file',
      metadataFile,
    );
    expect(result.code, result.stderr).toBe(0);
    const metadata = JSON.parse(readFileSync(metadataFile, 'utf8')) as Record<string, Record<string, string>>;
    for (const name of ['api', 'web']) {
      const ref = `${registry.host}/mono-docker/${name}:1`;
      expect((await skopeoInspect(`docker://${ref}`)).Digest).toBe(metadata[name]?.['containerimage.digest']);
      await docker(['pull', ref]);
      expect(await dockerRun({ image: ref })).toBe(`${name}\n`);
    }
  });

  it('examples/monorepo: three services on one base, pushed with each shared blob uploaded once; each image runs', async () => {
    // A copy, so the one-file change below does not touch the checkout.
    const example = join(tempDir(), 'monorepo');
    cpSync(join(repoRoot, 'examples/monorepo'), example, {
      recursive: true,
      filter: (src) => !src.includes('node_modules'),
    });
    const run = (...args: string[]) =>
      wharfAsync(['bake', join(example, 'build.ts'), ...cacheFlags(cacheDir, 'plain'), '--push', ...args], {
        env: { REGISTRY: `${registry.host}/monorepo` },
      });
    // The registry's own access log: blob uploads end with PUT …/blobs/uploads/<id>?digest=…, and
    // cross-repository mounts are POST …/blobs/uploads/?mount=<digest>&from=<repo> answered 201.
    const digestIn = (path: string) => /[?&](?:digest|mount)=([^&]+)/.exec(path)?.[1]?.replace('%3A', ':');
    const since = (mark: number) => {
      const requests = registry
        .requests()
        .slice(mark)
        .filter((r) => r.path.startsWith('/v2/monorepo/'));
      const puts = requests.filter(
        (r) => r.method === 'PUT' && r.path.includes('/blobs/uploads/') && r.status === 201,
      );
      const mounts = requests.filter(
        (r) => r.method === 'POST' && r.path.includes('mount=') && r.status === 201,
      );
      return { puts, mounts };
    };
    const mark = registry.requests().length;
    const result = await run();
    expect(result.code, result.stderr).toBe(0);
    const log = since(mark);
    // every blob went up once, whatever the repository; each shared one went up once and was mounted
    // into the two other repositories
    const putDigests = log.puts.map((r) => digestIn(r.path));
    expect(new Set(putDigests).size).toBe(putDigests.length);
    const mountedDigests = log.mounts.map((r) => digestIn(r.path));
    for (const digest of new Set(mountedDigests)) {
      expect(putDigests.filter((d) => d === digest)).toHaveLength(1);
      expect(mountedDigests.filter((d) => d === digest)).toHaveLength(2);
    }
    const stats = /pushed: (\d+) blobs uploaded \([^)]*\), (\d+) mounted/.exec(result.stderr);
    // Per service: its COPY layer and config are its own; the node base's layers and the base stage's
    // layers are shared, uploaded for one repository and mounted into the other two.
    const [uploaded, mounted] = [Number(stats?.[1]), Number(stats?.[2])];
    const shared = mounted / 2;
    expect(shared).toBeGreaterThanOrEqual(4); // node's layer(s) + WORKDIR, two COPYs and the RUN
    expect(uploaded).toBe(shared + 3 * 2);
    expect([log.puts.length, log.mounts.length]).toEqual([uploaded, mounted]);
    for (const name of ['api', 'worker', 'web']) {
      const ref = `${registry.host}/monorepo/${name}:dev`;
      await docker(['pull', ref]);
      const extra = name === 'worker' ? ' (cleanup every minute)' : '';
      expect(await dockerRun({ image: ref })).toBe(`${name}: hello from the shared library${extra}\n`);
    }
    const mark2 = registry.requests().length;
    const again = await run();
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/pushed: 0 blobs uploaded \(0 B\), 0 mounted \(0 B\)/);
    expect(since(mark2)).toEqual({ puts: [], mounts: [] });
    // After a one-file change in one service, only that target's step runs and only its new layer
    // and config go up.
    const main = join(example, 'repo/services/web/main.js');
    writeFileSync(main, readFileSync(main, 'utf8').replace("greeting('web')", "greeting('web (changed)')"));
    const mark3 = registry.requests().length;
    const changed = await run();
    expect(changed.code, changed.stderr).toBe(0);
    const changedLog = since(mark3);
    expect(changedLog.mounts).toEqual([]);
    expect(changedLog.puts.map((r) => r.path.split('/blobs/')[0])).toEqual([
      '/v2/monorepo/web',
      '/v2/monorepo/web',
    ]);
    const rebuilt = (r: { stderr: string }) =>
      r.stderr.match(/^\[\w+ \w+ \d+\] (COPY|RUN|WORKDIR) .*$/gm)?.filter((l) => !l.endsWith('CACHED'));
    expect(rebuilt(changed)).toEqual([expect.stringMatching(/^\[web web 1\] COPY --from=web-workspace /)]);
    expect(changed.stderr).toMatch(/pushed: 2 blobs uploaded \([\d.]+ kB\), 0 mounted \(0 B\)/);
    await docker(['pull', `${registry.host}/monorepo/web:dev`]);
    expect(await dockerRun({ image: `${registry.host}/monorepo/web:dev` })).toBe(
      'web (changed): hello from the shared library\n',
    );
    // workspaceContext: packages/clock is in the worker's context only (its package.json depends on
    // it), so a change there rebuilds the worker alone.
    const clock = join(example, 'repo/packages/clock/index.js');
    writeFileSync(clock, readFileSync(clock, 'utf8').replace('every minute', 'every hour'));
    const clocked = await run();
    expect(clocked.code, clocked.stderr).toBe(0);
    expect(rebuilt(clocked)).toEqual([
      expect.stringMatching(/^\[worker worker 1\] COPY --from=worker-workspace /),
    ]);
    await docker(['pull', `${registry.host}/monorepo/worker:dev`]);
    expect(await dockerRun({ image: `${registry.host}/monorepo/worker:dev` })).toBe(
      'worker: hello from the shared library (cleanup every hour)\n',
    );
  });
});

// Two concurrent `build()` calls (not bake) of targets that share a stage, over one cache in one
// process: the shared RUN runs once. Its side effect — a line appended to a file in a cache mount —
// counts the executions; the second build waits for the first's step and takes it from the cache.
describe.skipIf(noDocker())('concurrent build() calls share in-flight steps', () => {
  it('two builds of targets sharing a stage run its RUN once', async () => {
    const dir = tempDir();
    const cacheDir = tempDir();
    writeFileSync(join(dir, 'a.txt'), 'a\n');
    writeFileSync(join(dir, 'b.txt'), 'b\n');
    const base = stage('base')
      .from('busybox')
      .run('echo ran >> /counter/runs && sleep 1 && echo shared > /shared.txt', {
        mounts: [cache('/counter', { id: 'bake-concurrent-counter' })],
      });
    const a = define({ target: stage('a').from(base).copy('a.txt', '/a.txt') });
    const b = define({ target: stage('b').from(base).copy('b.txt', '/b.txt') });
    const options = { contextDir: dir, cacheDir, registry: { mirrors: [testEnv().mirror.url] } };
    const [ra, rb] = await Promise.all([build(a, options), build(b, options)]);
    const counters = findFiles(cacheDir, 'runs');
    expect(counters).toHaveLength(1);
    expect(readFileSync(counters[0] as string, 'utf8')).toBe('ran\n');
    const shared = [ra, rb].map(
      (r) => r.steps.find((s) => s.text.startsWith('RUN ') && s.text.includes('echo ran'))?.cached,
    );
    expect(shared.sort()).toEqual([false, true]);
  });
});
