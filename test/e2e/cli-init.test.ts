// `wharf init` on four fixture projects (test/fixtures/init/): the build.ts it writes lints clean (no
// finding at warning or above) and builds with the direct backend against loopback look-alike bases:
// the Node app's FROM the mirror's node:20-alpine; the Go module's (with --lock) FROM a look-alike
// golang:1.22-alpine made of Debian's Go toolchain; the Python app's FROM a look-alike python:3.12-slim
// made of Debian's python3 .debs, pip installing Flask from wheels in it; the pnpm workspace's FROM a
// node:20-alpine whose corepack already holds the pinned pnpm (test/helpers/init-bases.ts). The Go,
// Python and pnpm images run in Docker and answer.
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wharfAsync } from '../helpers/cli.js';
import { docker } from '../helpers/docker.js';
import { noDocker, testEnv } from '../helpers/env.js';
import { ensureGoImage } from '../helpers/go-image.js';
import { type InitBases, missingOfflineInputs, startInitBases } from '../helpers/init-bases.js';
import { repoRoot, tempDir } from '../helpers/paths.js';
import { isCI, requireTool } from '../helpers/tools.js';

const fixtures = join(repoRoot, 'test/fixtures/init');

async function initIn(name: string, kind = '', extra: readonly string[] = []): Promise<string> {
  const dir = join(tempDir(), name);
  cpSync(join(fixtures, name), dir, { recursive: true });
  const result = await wharfAsync(['init', dir, ...extra]);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  expect(result.stdout).toContain(`wrote build.ts and .dockerignore for a ${kind}`);
  return dir;
}

describe('wharf init', () => {
  it.each([
    ['node-app', 'Node.js app (npm)', /\.run\('npm ci', \{ mounts: \[cache\.npm\(\)\] \}\)/],
    [
      'pnpm-workspace',
      'Node.js workspace (pnpm)',
      /\.copy\('packages\/api\/package\.json', '\.\/packages\/api\/'\)/,
    ],
    ['go-module', 'Go module', /\.run\('go mod download', \{ mounts: \[\.\.\.cache\.go\(\)\] \}\)/],
    [
      'python-app',
      'Python app',
      /\.run\('pip install -r requirements\.txt', \{ mounts: \[cache\.pip\(\)\] \}\)/,
    ],
  ])('%s: detected as a %s; the build.ts lints clean', async (name, kind, step) => {
    const dir = await initIn(name, kind);
    const buildTs = readFileSync(join(dir, 'build.ts'), 'utf8');
    expect(buildTs).toMatch(step);
    expect(readFileSync(join(dir, '.dockerignore'), 'utf8')).toMatch(/^\.git$/m);
    const lint = await wharfAsync(['lint', join(dir, 'build.ts'), '--format', 'json']);
    expect(lint.stderr).toBe('');
    expect(lint.code).toBe(0);
    const findings = JSON.parse(lint.stdout) as { rule: string; severity: string }[];
    expect(findings.filter((f) => f.severity !== 'info')).toEqual([]);
    const again = await wharfAsync(['init', dir]);
    expect([again.code, again.stdout]).toEqual([1, '']);
    expect(again.stderr).toMatch(/already exists\n {2}hint: .*--force/);
  });

  it('says what it looks for in a folder it does not recognise', async () => {
    const result = await wharfAsync(['init', tempDir()]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^wharf: no project wharf init knows in .*\n {2}hint: it looks for go\.mod/,
    );
  });
});

/**
 * `wharf build DIR/build.ts` through a mirror (the test mirror), in a fresh cache, lint findings failing
 * it. Not blocking the worker: a build can outlast vitest's RPC timeout on a busy machine.
 */
function buildInit(dir: string, extra: readonly string[], mirror = testEnv().mirror.url) {
  return wharfAsync([
    'build',
    join(dir, 'build.ts'),
    '--registry-mirror',
    mirror,
    '--cache-dir',
    tempDir(),
    '--progress',
    'plain',
    '--lint=error',
    ...extra,
  ]);
}

describe.skipIf(noDocker())('wharf init: the generated build.ts builds', () => {
  it('with the direct backend, FROM the mirror look-alike node:20-alpine', async () => {
    const dir = await initIn('node-app');
    const out = join(tempDir(), 'app.oci');
    const built = await buildInit(dir, ['-o', `type=oci,dest=${out}`]);
    expect(built.code, built.stderr).toBe(0);
    expect(built.stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);
    const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8'));
    expect(index.manifests).toHaveLength(1);
  });

  it('--lock pins the base in wharf.lock: lint finds it pinned, the build uses it with --locked', async () => {
    const { url } = testEnv().mirror;
    const dir = await initIn('node-app', 'Node.js app (npm)', ['--lock', '--registry-mirror', url]);
    const mirrored = await fetch(`${url}/v2/library/node/manifests/20-alpine`, {
      method: 'HEAD',
      headers: {
        accept:
          'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json',
      },
    });
    const digest = mirrored.headers.get('docker-content-digest');
    const lock = JSON.parse(readFileSync(join(dir, 'wharf.lock'), 'utf8'));
    expect(Object.keys(lock.images)).toEqual(['node:20-alpine']);
    expect(lock.images['node:20-alpine'].digest).toBe(digest);
    expect(readFileSync(join(dir, '.dockerignore'), 'utf8')).toMatch(/^wharf\.lock$/m);
    const lint = await wharfAsync(['lint', join(dir, 'build.ts'), '--format', 'json', '--fail-on', 'info']);
    expect(JSON.parse(lint.stdout).map((f: { rule: string }) => f.rule)).not.toContain(
      'BaseNotPinnedByDigest',
    );
    const built = await buildInit(dir, ['--locked']);
    expect(built.code, built.stderr).toBe(0);
    expect(built.stderr).toContain(`wharf.lock: node:20-alpine pinned to ${digest}`);
  });

  it.skipIf(!requireTool('go'))(
    'the Go module, with --lock: builds FROM a look-alike golang:1.22-alpine with --locked, and runs',
    async () => {
      const { url } = testEnv().mirror;
      await ensureGoImage(testEnv().mirror);
      const dir = await initIn('go-module', 'Go module', ['--lock', '--registry-mirror', url]);
      expect(Object.keys(JSON.parse(readFileSync(join(dir, 'wharf.lock'), 'utf8')).images)).toEqual([
        'golang:1.22-alpine',
      ]);
      const out = join(tempDir(), 'app.tar');
      const tag = 'wharf-e2e/init-go:latest';
      const built = await buildInit(dir, ['--locked', '-t', tag, '-o', `type=docker-archive,dest=${out}`]);
      expect(built.code, built.stderr).toBe(0);
      expect(built.stderr).toContain('wharf.lock: golang:1.22-alpine pinned to sha256:');
      expect(await docker(['load', '-i', out])).toContain(`Loaded image: ${tag}`);
      expect(await docker(['run', '--rm', tag])).toBe('hello\n');
    },
    600_000,
  );
});

/** Whether the container's own HEALTHCHECK says it is healthy. */
const healthy = async (id: string) =>
  (await docker(['inspect', '-f', '{{.State.Health.Status}}', id])).trim() === 'healthy';

/**
 * Runs `tag` detached, waits until `probe` (run in the container; it should print `id -u` last) succeeds
 * and then until `ready` says yes, and removes the container. Returns the probe's output. A failure
 * carries the container's state and log.
 */
async function runAndProbe(
  tag: string,
  runFlags: readonly string[],
  probe: readonly string[],
  ready: (id: string) => Promise<boolean> = async () => true,
): Promise<string> {
  const id = (await docker(['run', '-d', ...runFlags, tag])).trim();
  try {
    const deadline = Date.now() + 60_000;
    let answer: string | Error = new Error('not probed');
    for (;;) {
      if (typeof answer !== 'string') answer = await docker(['exec', id, ...probe]).catch((e: Error) => e);
      if (typeof answer === 'string' && (await ready(id))) return answer;
      if (Date.now() > deadline) {
        const state = await docker(['inspect', '-f', '{{json .State}}', id]).catch((e: Error) => e.message);
        const log = await docker(['logs', id]).catch((e: Error) => e.message);
        const last = typeof answer === 'string' ? 'not ready' : answer.message;
        throw new Error(`${tag}: ${last}\nstate: ${state}\nlog: ${log}`);
      }
      await new Promise((r) => setTimeout(r, 300));
    }
  } finally {
    await docker(['rm', '-f', id]).catch(() => undefined);
  }
}

/** One fixture built offline, run, and asked over HTTP. */
interface InitRun {
  /** The fixture (test/fixtures/init/) and what `wharf init` calls it. */
  name: string;
  kind: string;
  tag: string;
  /** What the build's output must show, if anything. */
  log?: RegExp;
  /** Run in the container: prints the app's answer, then `id -u`. */
  probe: string[];
  answer: string;
}

describe.skipIf(noDocker())('wharf init: the Python app and the pnpm workspace build offline and run', () => {
  let bases: InitBases | undefined;
  beforeAll(async () => {
    // CI runs scripts/test-env.sh first and never skips; elsewhere the tests say what is missing.
    if (missingOfflineInputs() && !isCI) return;
    bases = await startInitBases();
  }, 600_000);
  afterAll(async () => {
    await bases?.registry.stop();
  });

  // Each image's own HEALTHCHECK (http(port, '/')), every 300 ms instead of every 30 s; the probe prints
  // the app's answer and the user it runs as.
  it.for<[string, InitRun]>([
    [
      'the Python app: pip installs Flask from the wheelhouse; the image serves as a non-root user and turns healthy',
      {
        name: 'python-app',
        kind: 'Python app',
        tag: 'wharf-e2e/init-python:latest',
        log: /Successfully installed .*flask-2\.2\.2/i,
        probe: [
          'python',
          '-c',
          "import os, urllib.request as u; print(u.urlopen('http://127.0.0.1:8000/').read().decode() + str(os.getuid()))",
        ],
        answer: 'hello from flask\n10001\n',
      },
    ],
    [
      'the pnpm workspace: pnpm from corepack links the workspace dependency; the image turns healthy',
      {
        name: 'pnpm-workspace',
        kind: 'Node.js workspace (pnpm)',
        tag: 'wharf-e2e/init-pnpm:latest',
        probe: ['sh', '-c', 'wget -qO- http://127.0.0.1:3000/ && id -u'],
        answer: 'hello from api\n1000\n',
      },
    ],
  ])('%s', { timeout: 600_000 }, async ([, { name, kind, tag, log, probe, answer }], ctx) => {
    if (!bases) return ctx.skip(`no offline inputs: ${missingOfflineInputs()}`);
    const dir = await initIn(name, kind);
    const out = join(tempDir(), 'app.tar');
    const built = await buildInit(
      dir,
      ['-t', tag, '-o', `type=docker-archive,dest=${out}`],
      bases.registry.url,
    );
    expect(built.code, built.stderr).toBe(0);
    if (log) expect(built.stdout + built.stderr).toMatch(log);
    expect(await docker(['load', '-i', out])).toContain(`Loaded image: ${tag}`);
    try {
      expect(await runAndProbe(tag, ['--health-interval', '300ms'], probe, healthy)).toBe(answer);
    } finally {
      await docker(['rmi', tag]).catch(() => undefined);
    }
  });
});
