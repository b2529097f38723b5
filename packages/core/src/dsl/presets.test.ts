/**
 * Presets: what each cache preset mounts, the apt keep-cache prelude, nonRootUser, ociLabels, and http()
 * health checks run for real against a local server with only wget, curl, node or python3 on PATH. A
 * stage written with the presets lints clean.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { emitDockerfile } from '../dockerfile/emit/index.js';
import { isWharfError } from '../errors.js';
import type { CacheMount, RunInstruction } from '../ir/types.js';
import { lintGraph } from '../lint/index.js';
import { toGraph } from './graph.js';
import { http } from './healthcheck.js';
import { ociLabels } from './labels.js';
import { APT_KEEP_CACHE, aptInstall, cache, type MountValue } from './mounts.js';
import { stage } from './stage.js';
import { nonRootUser } from './user.js';

const BASE = 'debian:bookworm@sha256:1e42bbe2508154c9126d48c2b8a75420c3544343bf86fd041fb7527e017a4b4a';
const targets = (mounts: MountValue | MountValue[]) =>
  [mounts].flat().map((m) => {
    const d = m.draft as CacheMount;
    return `${d.target} id=${d.id}${d.sharing ? ` ${d.sharing}` : ''}`;
  });

describe('cache presets', () => {
  test.each([
    ['npm', cache.npm(), ['/root/.npm id=npm']],
    ['apt', cache.apt(), ['/var/cache/apt id=apt-cache locked', '/var/lib/apt id=apt-lib locked']],
    ['pip', cache.pip(), ['/root/.cache/pip id=pip']],
    ['go', cache.go(), ['/root/.cache/go-build id=go-build', '/go/pkg/mod id=go-mod']],
    ['pnpm', cache.pnpm(), ['/root/.local/share/pnpm/store id=pnpm']],
    ['yarn', cache.yarn(), ['/usr/local/share/.cache/yarn id=yarn']],
    [
      'cargo',
      cache.cargo(),
      ['/usr/local/cargo/registry id=cargo-registry', '/usr/local/cargo/git id=cargo-git'],
    ],
    ['maven', cache.maven(), ['/root/.m2/repository id=maven']],
    ['gradle', cache.gradle(), ['/root/.gradle/caches id=gradle']],
    ['bun', cache.bun(), ['/root/.bun/install/cache id=bun']],
  ])('cache.%s()', (_, mounts, expected) => {
    expect(targets(mounts)).toEqual(expected);
  });

  test.each([
    ['npm', cache.npm(), '--mount=type=cache,target=/root/.npm,id=npm'],
    [
      'apt',
      cache.apt(),
      '--mount=type=cache,target=/var/cache/apt,id=apt-cache,sharing=locked --mount=type=cache,target=/var/lib/apt,id=apt-lib,sharing=locked',
    ],
    ['pip', cache.pip(), '--mount=type=cache,target=/root/.cache/pip,id=pip'],
    [
      'go',
      cache.go(),
      '--mount=type=cache,target=/root/.cache/go-build,id=go-build --mount=type=cache,target=/go/pkg/mod,id=go-mod',
    ],
    ['pnpm', cache.pnpm(), '--mount=type=cache,target=/root/.local/share/pnpm/store,id=pnpm'],
    ['yarn', cache.yarn(), '--mount=type=cache,target=/usr/local/share/.cache/yarn,id=yarn'],
    [
      'cargo',
      cache.cargo(),
      '--mount=type=cache,target=/usr/local/cargo/registry,id=cargo-registry --mount=type=cache,target=/usr/local/cargo/git,id=cargo-git',
    ],
    ['maven', cache.maven(), '--mount=type=cache,target=/root/.m2/repository,id=maven'],
    ['gradle', cache.gradle(), '--mount=type=cache,target=/root/.gradle/caches,id=gradle'],
    ['bun', cache.bun(), '--mount=type=cache,target=/root/.bun/install/cache,id=bun'],
  ])('cache.%s() in the emitted Dockerfile', (_, mounts, flags) => {
    const app = stage('app')
      .from(BASE)
      .run('make', { mounts: [mounts].flat() });
    expect(emitDockerfile(toGraph(app)).dockerfile.split('\n')).toContain(`RUN ${flags} make`);
  });

  test('cache.apt() with the keep-cache prelude, as BuildKit documents it', () => {
    const app = stage('app')
      .from(BASE)
      .run(`${APT_KEEP_CACHE} && apt-get update && apt-get install -y --no-install-recommends gcc`, {
        mounts: cache.apt(),
      });
    // The long line is folded at `&&` with continuation lines: unfold it to compare.
    const run = emitDockerfile(toGraph(app))
      .dockerfile.replace(/ \\\n\s*/g, ' ')
      .split('\n')
      .find((line) => line.startsWith('RUN '));
    expect(run).toBe(
      'RUN --mount=type=cache,target=/var/cache/apt,id=apt-cache,sharing=locked --mount=type=cache,target=/var/lib/apt,id=apt-lib,sharing=locked ' +
        'rm -f /etc/apt/apt.conf.d/docker-clean; echo \'Binary::apt::APT::Keep-Downloaded-Packages "true";\' > /etc/apt/apt.conf.d/keep-cache' +
        ' && apt-get update && apt-get install -y --no-install-recommends gcc',
    );
  });

  test('options apply to every mount of a preset; an id becomes a prefix', () => {
    expect(targets(cache.go({ id: 'arm64', sharing: 'private' }))).toEqual([
      '/root/.cache/go-build id=arm64-go-build private',
      '/go/pkg/mod id=arm64-go-mod private',
    ]);
  });

  test('aptInstall: keeps downloads from docker-clean, mounts both apt caches, no recommends', () => {
    const app = stage('tools')
      .from(BASE)
      .run(...aptInstall(['curl=7.88.1-10+deb12u5']));
    const { dockerfile } = emitDockerfile(toGraph(app));
    expect(dockerfile).toContain(
      'RUN --mount=type=cache,target=/var/cache/apt,id=apt-cache,sharing=locked --mount=type=cache,target=/var/lib/apt,id=apt-lib,sharing=locked',
    );
    expect(dockerfile).toContain(
      'rm -f /etc/apt/apt.conf.d/docker-clean; echo \'Binary::apt::APT::Keep-Downloaded-Packages "true";\'',
    );
    const run = toGraph(app).stages[0]?.instructions[0] as RunInstruction;
    expect(run.command).toEqual({
      form: 'shell',
      script: `${APT_KEEP_CACHE} && apt-get update && apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u5`,
    });
    expect(() => aptInstall(['curl; rm -rf /'])).toThrow(/is not an apt package name/);
  });
});

describe('final-image helpers', () => {
  test('a stage written with the presets lints clean', () => {
    const app = nonRootUser(
      stage('app')
        .from(BASE)
        .run(...aptInstall(['wget=1.21.3-1+b2']))
        .label(ociLabels({ title: 'app', source: 'https://example.com/app', licenses: 'MIT' }))
        .expose(3000)
        .healthcheck(http(3000, '/health'), { interval: '30s' }),
    ).cmd(['/usr/local/bin/app']);
    expect(lintGraph(toGraph(app))).toEqual([]);
  });

  test('nonRootUser: creates the user with useradd or busybox adduser, then USER uid:gid', () => {
    const [run, user] =
      toGraph(nonRootUser(stage('a').from('alpine:3.20'), { name: 'svc', uid: 2000 })).stages[0]
        ?.instructions ?? [];
    expect(user).toMatchObject({ kind: 'user', user: '2000:2000' });
    expect((run as RunInstruction).command).toMatchObject({
      script: expect.stringMatching(
        /useradd --uid 2000 --gid 2000 .* svc; else addgroup -g 2000 svc && adduser -D -H -u 2000 -G svc/,
      ),
    });
    const bare = toGraph(nonRootUser(stage('b').from('scratch'), { create: false })).stages[0]?.instructions;
    expect(bare).toEqual([expect.objectContaining({ kind: 'user', user: '10001:10001' })]);
    for (const bad of [{ name: 'x; rm -rf /' }, { uid: 0 }, { gid: 1.5 }]) {
      let error: unknown;
      try {
        nonRootUser(stage('c').from('alpine:3.20'), bad);
      } catch (e) {
        error = e;
      }
      expect(isWharfError(error) && error.code).toBe('DSL_BAD_USER');
    }
  });

  test('.user(nonRootUser()) in the chain is the same as wrapping the stage', () => {
    const options = { name: 'svc', uid: 2000 };
    const chained = stage('a').from('alpine:3.20').user(nonRootUser(options)).cmd(['/app']);
    const wrapped = nonRootUser(stage('a').from('alpine:3.20'), options).cmd(['/app']);
    const strip = (graph: unknown) =>
      JSON.parse(JSON.stringify(graph, (k, v) => (k === 'source' ? undefined : v)));
    expect(strip(toGraph(chained))).toEqual(strip(toGraph(wrapped)));
    const [run, user] = toGraph(chained).stages[0]?.instructions ?? [];
    expect([run?.kind, user]).toEqual(['run', expect.objectContaining({ kind: 'user', user: '2000:2000' })]);
    expect(run?.source?.file).toMatch(/presets\.test\.ts$/); // the build.ts line, not the DSL's
    const bare = stage('b')
      .from('scratch')
      .user(nonRootUser({ create: false }));
    expect(toGraph(bare).stages[0]?.instructions).toEqual([
      expect.objectContaining({ kind: 'user', user: '10001:10001' }),
    ]);
    expect(() => stage('c').from('scratch').user(nonRootUser(), 'root')).toThrow(/takes no group/);
  });

  test('ociLabels: org.opencontainers.image.* keys for the fields given', () => {
    expect(ociLabels({ title: 'app', revision: 'abc', base: { name: 'alpine:3.20' } })).toEqual({
      'org.opencontainers.image.title': 'app',
      'org.opencontainers.image.revision': 'abc',
      'org.opencontainers.image.base.name': 'alpine:3.20',
    });
  });

  test('http() refuses what it cannot put in a URL safely', () => {
    expect(() => http(70000)).toThrow(/is not a port/);
    expect(() => http(80, '/"; rm -rf / #')).toThrow(/is not a URL path/);
    expect(() => http(80, '/', { host: '$(id)' })).toThrow(/is not a host/);
  });
});

describe('http() health check, run with each tool', () => {
  let server: Server;
  let port = 0;
  const bins = mkdtempSync(join(tmpdir(), 'wharf-http-check-'));
  beforeAll(async () => {
    server = createServer((req, res) => {
      res.statusCode = req.url === '/health' ? 200 : 500;
      res.end('ok');
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    port = (server.address() as { port: number }).port;
    // One folder per tool: the check must find and use just that one.
    const tools: Record<string, [string, string][]> = {
      wget: [['wget', '/bin/busybox']],
      curl: [['curl', '/usr/bin/curl']],
      node: [['node', process.execPath]],
      python3: [['python3', '/usr/bin/python3']],
    };
    for (const [name, links] of Object.entries(tools)) {
      mkdirSync(join(bins, name));
      for (const [link, target] of links) symlinkSync(target, join(bins, name, link));
    }
  });
  afterAll(() => {
    server.close();
    rmSync(bins, { recursive: true, force: true });
  });

  test.each(['wget', 'curl', 'node', 'python3'])(
    'with only %s: 0 when healthy, 1 on an error status or no server',
    async (tool) => {
      // Asynchronously: the server answers from this process.
      const check = (path: string, p = port) =>
        new Promise<number | null>((done) => {
          const child = spawn('/bin/sh', ['-c', http(p, path).script], {
            env: { PATH: join(bins, tool) },
            stdio: 'ignore',
            timeout: 10_000,
          });
          child.on('close', done);
        });
      expect(await check('/health')).toBe(0);
      expect(await check('/broken')).toBe(1);
      expect(await check('/health', 1)).toBe(1);
    },
  );
});
