// --cache-to / --cache-from (issue 19): a multi-stage RUN build on "machine A" exports its step cache to
// the loopback docker-registry (and to a directory); "machine B" (a fresh cache dir) imports it, runs no
// RUN and gets the same digest; a one-file change reruns only the steps after it; a missing ref or a
// corrupt cache manifest is a warning and the build still succeeds. With mounts=true a cache mount
// travels too: machine C must rerun a later step that uses the mount, and it fails unless A's files are there.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { login } from '@wharf/core/registry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliResult, wharfAsync } from '../helpers/cli.js';
import { noDocker, testEnv } from '../helpers/env.js';
import { type FaultProxy, seededRandom, startFaultProxy } from '../helpers/fault-proxy.js';
import { writeHtpasswd } from '../helpers/htpasswd.js';
import { tempDir } from '../helpers/paths.js';
import { type Registry, startRegistry } from '../helpers/registry.js';
import { makeSelfSignedCA, type TestCA } from '../helpers/tls.js';

const DOCKERFILE = [
  'FROM busybox AS deps',
  'RUN echo deps > /deps && sleep 1',
  'FROM busybox AS build',
  'COPY --from=deps /deps /deps',
  'COPY src /src',
  'RUN cat /deps /src/a.txt /src/b.txt > /out',
  'FROM busybox',
  'WORKDIR /app',
  'COPY --from=build /out /app/out',
  'RUN echo final > /app/final',
  '',
].join('\n');

interface StepEvent {
  readonly type: string;
  readonly stage?: string;
  readonly text?: string;
  readonly cached?: boolean;
  readonly miss?: string;
  readonly message?: string;
}

/** `wharf build` of `dockerfile` on a machine whose cache dir is `cacheDir`, into a fresh OCI layout. */
function buildArgs(dockerfile: string, context: string, cacheDir: string, args: readonly string[]): string[] {
  const out = join(tempDir(), 'image');
  return [
    'build',
    '-f',
    dockerfile,
    context,
    '--progress',
    'json',
    '--lint',
    'off',
    '--cache-dir',
    cacheDir,
    '--registry-mirror',
    testEnv().mirror.url,
    '-o',
    `type=oci,dest=${out}`,
    ...args,
  ];
}

/** A successful build's digest, step events (which ran), and warnings. */
function parsed(result: CliResult) {
  expect(result.code, result.stderr).toBe(0);
  const events = result.stderr
    .trim()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as StepEvent);
  const steps = events.filter((e) => e.type === 'step-finished');
  return {
    digest: result.stdout.trim(),
    steps,
    ran: steps.filter((e) => !e.cached).map((e) => `${e.stage}: ${e.text}`),
    runs: steps.filter((e) => !e.cached && e.text?.startsWith('RUN')),
    warnings: events.filter((e) => e.type === 'warning').map((e) => e.message ?? ''),
    logs: events.filter((e) => e.type === 'log').map((e) => e.text ?? ''),
  };
}

interface Project {
  readonly dockerfile: string;
  readonly context: string;
}

/**
 * `wharf build` of `project` (async: a build takes seconds) on a fresh machine (a new cache dir),
 * parsed; `env` for the registry credentials.
 */
async function buildOn(project: Project, args: readonly string[], env?: NodeJS.ProcessEnv) {
  const { dockerfile, context } = project;
  return parsed(await wharfAsync(buildArgs(dockerfile, context, tempDir(), args), env ? { env } : {}));
}

/** A project with the multi-stage definition: its Dockerfile and context. */
function project(): Project {
  const dir = tempDir();
  const context = join(dir, 'context');
  mkdirSync(join(context, 'src'), { recursive: true });
  writeFileSync(join(context, 'src', 'a.txt'), 'a\n');
  writeFileSync(join(context, 'src', 'b.txt'), 'b\n');
  writeFileSync(join(dir, 'Dockerfile'), DOCKERFILE);
  return { dockerfile: join(dir, 'Dockerfile'), context };
}

describe.skipIf(noDocker())('remote cache: --cache-to / --cache-from', () => {
  let registry: Registry;
  const multiStage = project();
  const { context } = multiStage;

  beforeAll(async () => {
    registry = await startRegistry();
  }, 60_000);

  afterAll(async () => {
    await registry?.stop();
  });

  const build = (args: readonly string[]) =>
    buildOn(multiStage, ['--insecure-registry', registry.host, ...args]);

  it('machine B hits every step from the registry cache of machine A: no RUN runs, same digest', async () => {
    const ref = `${registry.host}/app/cache:main`;
    const a = await build(['--cache-to', `type=registry,ref=${ref},mode=max`]);
    expect(a.runs).toHaveLength(3);
    expect(a.warnings).toEqual([]);

    const b = await build(['--cache-from', `type=registry,ref=${ref}`]);
    expect(b.warnings).toEqual([]);
    expect(b.ran).toEqual([]);
    expect(b.steps.length).toBe(a.steps.length);
    expect(b.digest).toBe(a.digest);
    expect(b.digest).toMatch(/^sha256:[0-9a-f]{64}$/);

    // A one-file change: only the steps from the COPY that reads it on run (deps is untouched).
    writeFileSync(join(context, 'src', 'b.txt'), 'b changed\n');
    try {
      const c = await build(['--cache-from', `type=registry,ref=${ref}`]);
      expect(c.ran).toEqual([
        'build: COPY src /src',
        'build: RUN cat /deps /src/a.txt /src/b.txt > /out',
        'stage-2: COPY --from=build /out /app/out',
        'stage-2: RUN echo final > /app/final',
      ]);
      expect(c.digest).not.toBe(a.digest);
      // a fresh machine has no history of its own: the miss is explained against the cache's record
      const copy = c.steps.find((e) => e.text === 'COPY src /src');
      expect(copy?.miss).toMatch(
        /^remote cache .*app\/cache:main had [0-9a-f]{12}: context file src\/b\.txt changed/,
      );
    } finally {
      writeFileSync(join(context, 'src', 'b.txt'), 'b\n');
    }
  }, 240_000);

  it('exporting to another repository of the same registry mounts the imported layers', async () => {
    const main = `${registry.host}/app/cache-main:latest`;
    const branch = `${registry.host}/app/cache-branch:latest`;
    await build(['--cache-to', `type=registry,ref=${main},mode=max`]);
    const b = await build(['--cache-from', main, '--cache-to', `type=registry,ref=${branch},mode=max`]);
    expect(b.ran).toEqual([]);
    // every blob came from app/cache-main (the same records make the same config): mounted, none uploaded
    const line = b.logs.find((t) => t.startsWith(`cache exported to ${branch}`)) ?? '';
    const [, layers, mounted] =
      /(\d+) layers \(blobs: 0 uploaded, 0 already there, (\d+) mounted\)/.exec(line) ?? [];
    // the layers, the config, and the layers' listings (what a lazy hit replays)
    expect(Number(mounted), line).toBe(Number(layers) + 2);
    expect(Number(layers)).toBeGreaterThan(3);
  }, 240_000);

  it('a push to the registry the cache is in mounts the cached layers: not downloaded, not uploaded again', async () => {
    const logged = await startRegistry({ accessLog: true });
    try {
      const ref = `${logged.host}/app/cache:main`;
      const image = `${logged.host}/app/pushed:1`;
      const a = await buildOn(multiStage, [
        '--insecure-registry',
        logged.host,
        '--cache-to',
        `type=registry,ref=${ref},mode=max,compression=gzip`,
      ]);
      const mark = logged.requests().length;
      // machine B: a fresh cache dir, the push its only output; the cache's gzip blobs are the image's layers
      const { dockerfile } = multiStage;
      const args = ['build', '-f', dockerfile, context, '--progress', 'json', '--lint', 'off'];
      const result = await wharfAsync([
        ...args,
        ...['--cache-dir', tempDir(), '--registry-mirror', testEnv().mirror.url],
        ...['--insecure-registry', logged.host, '--cache-from', ref, '--push', '-t', image],
      ]);
      expect(result.code, result.stderr).toBe(0);
      const events = result.stderr
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map(
          (line) => JSON.parse(line) as { type: string; digest?: string; from?: string; cached?: boolean },
        );
      expect(events.filter((e) => e.type === 'step-finished' && !e.cached)).toEqual([]);
      const mounted = events.filter((e) => e.type === 'blob-mounted');
      // the target's own layers (WORKDIR, COPY --from, RUN) come from the cache's repository
      expect(mounted.length, result.stderr).toBeGreaterThanOrEqual(3);
      expect(new Set(mounted.map((e) => e.from))).toEqual(new Set(['app/cache']));
      // none of them was downloaded by machine B
      const fetched = logged
        .requests()
        .slice(mark)
        .filter((r) => r.method === 'GET' && r.path.includes('/blobs/'));
      for (const blob of mounted) expect(fetched.map((r) => r.path).join('\n')).not.toContain(blob.digest);
      // the same image as machine A built
      expect(result.stdout).toContain(a.digest);
    } finally {
      await logged.stop();
    }
  }, 240_000);

  it('mode=min exports only the target stage; a builder stage then runs on machine B', async () => {
    const ref = `${registry.host}/app/cache:min`;
    const a = await build(['--cache-to', `type=registry,ref=${ref}`]);
    const b = await build(['--cache-from', `type=registry,ref=${ref}`]);
    expect(b.digest).toBe(a.digest);
    // deps and build are not in the target image: they run; the target's own steps then hit
    expect(b.runs.map((e) => e.stage)).toEqual(['deps', 'build']);
    expect(b.ran.filter((s) => s.startsWith('stage-2'))).toEqual([]);
  }, 240_000);

  it('type=local: the cache travels as a directory', async () => {
    const dir = join(tempDir(), 'ci-cache');
    const a = await build(['--cache-to', `type=local,dest=${dir},mode=max`]);
    const b = await build(['--cache-from', `type=local,src=${dir}`]);
    expect(b.ran).toEqual([]);
    expect(b.digest).toBe(a.digest);
  }, 240_000);

  it('several --cache-from: a missing ref is a warning and the next one is used', async () => {
    const ref = `${registry.host}/app/cache:main`;
    await build(['--cache-to', `type=registry,ref=${ref},mode=max`]);
    const b = await build([
      '--cache-from',
      `type=registry,ref=${registry.host}/app/cache:no-such-branch`,
      '--cache-from',
      `type=registry,ref=${ref}`,
    ]);
    expect(b.warnings).toHaveLength(1);
    expect(b.warnings[0]).toMatch(/^cache import from .*app\/cache:no-such-branch failed: /);
    expect(b.ran).toEqual([]);
  }, 240_000);

  it('a corrupt cache manifest, another image under the ref, an unreachable registry: warnings, same image', async () => {
    const repo = 'app/corrupt';
    // a manifest that says it is a wharf cache but whose config is not one
    const config = Buffer.from('{"wharfCache": "nope"}');
    const configDigest = `sha256:${createHash('sha256').update(config).digest('hex')}`;
    const started = await fetch(`${registry.url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    const location = new URL(started.headers.get('location') as string, registry.url);
    location.searchParams.set('digest', configDigest);
    expect((await fetch(location, { method: 'PUT', body: config })).status).toBe(201);
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.wharf.cache.config.v1+json',
        digest: configDigest,
        size: config.length,
      },
      layers: [],
    });
    const put = await fetch(`${registry.url}/v2/${repo}/manifests/bad`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
      body: manifest,
    });
    expect(put.status).toBe(201);

    const cold = await build([]);
    const b = await build([
      '--cache-from',
      `type=registry,ref=${registry.host}/${repo}:bad`,
      '--cache-from',
      `type=registry,ref=${testEnv().mirror.host}/library/busybox:latest`,
      '--cache-from',
      'type=registry,ref=127.0.0.1:1/app/cache:main',
      '--cache-to',
      'type=registry,ref=127.0.0.1:1/app/cache:main',
    ]);
    expect(b.digest).toBe(cold.digest);
    expect(b.warnings).toEqual([
      expect.stringMatching(
        /^cache import from .*app\/corrupt:bad failed: not a usable wharf cache: cache format version "nope"/,
      ),
      expect.stringMatching(
        /^cache import from .*library\/busybox:latest failed: not a usable wharf cache: /,
      ),
      expect.stringMatching(/^cache import from 127\.0\.0\.1:1\/app\/cache:main failed: /),
      expect.stringMatching(/^cache export to 127\.0\.0\.1:1\/app\/cache:main failed: /),
    ]);
  }, 240_000);
});

describe.skipIf(noDocker())('remote cache: auth and registry faults', () => {
  const PASSWORD = 'cache-Pa55word!';
  const multiStage = project();
  let secure: Registry;
  let ca: TestCA;
  let plain: Registry;
  let proxy: FaultProxy;

  beforeAll(async () => {
    const dir = tempDir();
    ca = await makeSelfSignedCA(dir);
    const htpasswd = await writeHtpasswd(join(dir, 'htpasswd'), { alice: PASSWORD });
    secure = await startRegistry({ tls: { certFile: ca.certFile, keyFile: ca.keyFile }, htpasswd });
    plain = await startRegistry();
    const random = seededRandom(19);
    proxy = await startFaultProxy({
      upstream: plain.url,
      stallMs: 1500,
      decide: () => {
        const r = random();
        return r < 0.2
          ? 'status-503'
          : r < 0.3
            ? 'drop-request'
            : r < 0.35
              ? 'stall'
              : r < 0.4
                ? 'cut-response'
                : 'pass';
      },
    });
  }, 60_000);

  afterAll(async () => {
    await proxy?.stop();
    await Promise.all([secure?.stop(), plain?.stop()]);
  });

  it('with credentials (wharf login, TLS + Basic) the cache travels; without them: a warning, same image', async () => {
    const configDir = tempDir();
    const env = { DOCKER_CONFIG: configDir };
    await login(secure.host, 'alice', PASSWORD, { caFile: ca.caFile, configDir });
    const ref = `${secure.host}/app/cache:main`;
    const tls = ['--ca-file', ca.caFile];
    const a = await buildOn(multiStage, [...tls, '--cache-to', `type=registry,ref=${ref},mode=max`], env);
    expect(a.warnings).toEqual([]);
    const b = await buildOn(multiStage, [...tls, '--cache-from', `type=registry,ref=${ref}`], env);
    expect(b.ran).toEqual([]);
    expect(b.digest).toBe(a.digest);

    const anonymous = { DOCKER_CONFIG: tempDir() };
    const c = await buildOn(
      multiStage,
      [...tls, '--cache-from', `type=registry,ref=${ref}`, '--cache-to', `type=registry,ref=${ref}`],
      anonymous,
    );
    expect(c.digest).toBe(a.digest);
    expect(c.runs).toHaveLength(3);
    expect(c.warnings).toEqual([
      expect.stringMatching(
        /^cache import from .*app\/cache:main failed: .*(unauthorized|authentication|credentials|HTTP 401)/i,
      ),
      expect.stringMatching(
        /^cache export to .*app\/cache:main failed: .*(unauthorized|authentication|credentials|HTTP 401)/i,
      ),
    ]);
  }, 240_000);

  it('through a proxy that drops, 503s, stalls and cuts: the build succeeds with the same image', async () => {
    const ref = `${proxy.host}/app/cache:faults`;
    const insecure = ['--insecure-registry', proxy.host];
    const cold = await buildOn(multiStage, []);
    const a = await buildOn(multiStage, [...insecure, '--cache-to', `type=registry,ref=${ref},mode=max`]);
    const b = await buildOn(multiStage, [...insecure, '--cache-from', `type=registry,ref=${ref}`]);
    expect(a.digest).toBe(cold.digest);
    expect(b.digest).toBe(cold.digest);
    const faults = proxy.counts['status-503'] + proxy.counts['drop-request'] + proxy.counts.stall;
    expect(faults).toBeGreaterThan(0);
    // every warning names the ref; retries usually get the cache through
    for (const warning of [...a.warnings, ...b.warnings]) expect(warning).toContain(ref);
  }, 240_000);
});

const MOUNTS_DOCKERFILE = [
  'FROM busybox AS deps',
  // the slow branch (a "download") runs only when the cache mount lacks the marker
  "RUN --mount=type=cache,target=/cache,id=pkgs sh -c 'test -f /cache/marker || { sleep 1; echo fetched > /cache/marker; }; cp /cache/marker /deps'",
  'FROM busybox',
  'COPY --from=deps /deps /deps',
  'COPY src /src',
  // fails unless the mount holds what machine A put there
  "RUN --mount=type=cache,target=/cache,id=pkgs sh -c 'test -f /cache/marker && cat /cache/marker /src/a.txt > /status'",
  '',
].join('\n');

describe.skipIf(noDocker())('remote cache: cache mounts travel (mounts=true)', () => {
  let registry: Registry;
  const dir = tempDir();
  const context = join(dir, 'context');
  mkdirSync(join(context, 'src'), { recursive: true });
  writeFileSync(join(context, 'src', 'a.txt'), 'a\n');
  writeFileSync(join(dir, 'Dockerfile'), MOUNTS_DOCKERFILE);

  beforeAll(async () => {
    registry = await startRegistry();
  }, 60_000);
  afterAll(async () => {
    await registry?.stop();
  });

  const withMounts: Project = { dockerfile: join(dir, 'Dockerfile'), context };
  const build = (args: readonly string[]) =>
    buildOn(withMounts, ['--insecure-registry', registry.host, ...args]);

  it('machine C reruns a step that uses the mount and finds machine A’s files in it', async () => {
    const ref = `${registry.host}/app/cache:mounts`;
    const a = await build(['--cache-to', `type=registry,ref=${ref},mode=max,mounts=true,compression=gzip`]);
    expect(a.warnings).toEqual([]);
    expect(a.logs.find((t) => t.startsWith(`cache exported to ${ref}`))).toMatch(/\(1 cache mounts\)/);

    const b = await build(['--cache-from', ref]);
    expect(b.ran).toEqual([]);
    expect(b.digest).toBe(a.digest);

    writeFileSync(join(context, 'src', 'a.txt'), 'a changed\n');
    try {
      // the mount chosen by its id this time
      const c = await build([
        '--cache-from',
        ref,
        '--cache-to',
        `type=registry,ref=${ref},mode=max,mounts=pkgs,compression=gzip`,
      ]);
      expect(c.warnings).toEqual([]);
      // deps (the "download") hits; the final RUN reruns with the restored mount, so it succeeds
      expect(c.ran).toEqual([
        'stage-1: COPY src /src',
        "stage-1: RUN --mount=type=cache,target=/cache,id=pkgs sh -c 'test -f /cache/marker && cat /cache/marker /src/a.txt > /status'",
      ]);
      // the mount is unchanged: its layer is already in the registry, with the deps and COPY --from
      // layers; the two new step layers go up (and the config or listings where their bytes changed)
      const line = c.logs.find((t) => t.startsWith(`cache exported to ${ref}`)) ?? '';
      expect(line).toMatch(/5 layers \(1 cache mounts\)/);
      const [, uploaded, there] = /blobs: (\d+) uploaded, (\d+) already there/.exec(line) ?? [];
      expect(Number(uploaded), line).toBeGreaterThanOrEqual(2);
      expect(Number(there), line).toBeGreaterThanOrEqual(3);
      expect(Number(uploaded) + Number(there), line).toBe(7);
    } finally {
      writeFileSync(join(context, 'src', 'a.txt'), 'a\n');
    }
  }, 240_000);

  it('without the mount in mounts= it stays behind (a warning names the ids), and the step that needs it fails', async () => {
    const ref = `${registry.host}/app/cache:no-mounts`;
    const a = await build(['--cache-to', `type=registry,ref=${ref},mode=max,mounts=npm`]);
    expect(a.warnings).toEqual([
      expect.stringMatching(/mounts=npm names no cache mount the exported steps use/),
    ]);
    expect(a.logs.find((t) => t.startsWith(`cache exported to ${ref}`))).not.toMatch(/cache mounts/);
    writeFileSync(join(context, 'src', 'a.txt'), 'a again\n');
    try {
      const c = await wharfAsync([
        'build',
        '-f',
        join(dir, 'Dockerfile'),
        context,
        '--lint',
        'off',
        '--cache-dir',
        tempDir(),
        '--registry-mirror',
        testEnv().mirror.url,
        '--insecure-registry',
        registry.host,
        '--cache-from',
        ref,
      ]);
      expect(c.code).toBe(1);
    } finally {
      writeFileSync(join(context, 'src', 'a.txt'), 'a\n');
    }
  }, 240_000);
});
