// `wharf init` on four fixture projects (test/fixtures/init/): the build.ts it writes lints clean (no
// finding at warning or above); the Node app's builds with the direct backend against the loopback
// mirror's look-alike node:20-alpine, and the Go module's (with --lock) against a look-alike
// golang:1.22-alpine made of Debian's Go toolchain, and runs in Docker.
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { wharf } from '../helpers/cli.js';
import { docker } from '../helpers/docker.js';
import { noDocker, testEnv } from '../helpers/env.js';
import { ensureGoImage } from '../helpers/go-image.js';
import { repoRoot, tempDir } from '../helpers/paths.js';
import { requireTool } from '../helpers/tools.js';

const fixtures = join(repoRoot, 'test/fixtures/init');

function initIn(name: string, kind = '', extra: readonly string[] = []): string {
  const dir = join(tempDir(), name);
  cpSync(join(fixtures, name), dir, { recursive: true });
  const result = wharf(['init', dir, ...extra]);
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
  ])('%s: detected as a %s; the build.ts lints clean', (name, kind, step) => {
    const dir = initIn(name, kind);
    const buildTs = readFileSync(join(dir, 'build.ts'), 'utf8');
    expect(buildTs).toMatch(step);
    expect(readFileSync(join(dir, '.dockerignore'), 'utf8')).toMatch(/^\.git$/m);
    const lint = wharf(['lint', join(dir, 'build.ts'), '--format', 'json']);
    expect(lint.stderr).toBe('');
    expect(lint.code).toBe(0);
    const findings = JSON.parse(lint.stdout) as { rule: string; severity: string }[];
    expect(findings.filter((f) => f.severity !== 'info')).toEqual([]);
    const again = wharf(['init', dir]);
    expect([again.code, again.stdout]).toEqual([1, '']);
    expect(again.stderr).toMatch(/already exists\n {2}hint: .*--force/);
  });

  it('says what it looks for in a folder it does not recognise', () => {
    const result = wharf(['init', tempDir()]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^wharf: no project wharf init knows in .*\n {2}hint: it looks for go\.mod/,
    );
  });
});

/** `wharf build DIR/build.ts` through the test mirror, in a fresh cache, lint findings failing it. */
function buildInit(dir: string, extra: readonly string[]) {
  return wharf([
    'build',
    join(dir, 'build.ts'),
    '--registry-mirror',
    testEnv().mirror.url,
    '--cache-dir',
    tempDir(),
    '--progress',
    'plain',
    '--lint=error',
    ...extra,
  ]);
}

describe.skipIf(noDocker())('wharf init: the generated build.ts builds', () => {
  it('with the direct backend, FROM the mirror look-alike node:20-alpine', () => {
    const dir = initIn('node-app');
    const out = join(tempDir(), 'app.oci');
    const built = buildInit(dir, ['-o', `type=oci,dest=${out}`]);
    expect(built.code, built.stderr).toBe(0);
    expect(built.stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);
    const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8'));
    expect(index.manifests).toHaveLength(1);
  });

  it('--lock pins the base in wharf.lock: lint finds it pinned, the build uses it with --locked', async () => {
    const { url } = testEnv().mirror;
    const dir = initIn('node-app', 'Node.js app (npm)', ['--lock', '--registry-mirror', url]);
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
    const lint = wharf(['lint', join(dir, 'build.ts'), '--format', 'json', '--fail-on', 'info']);
    expect(JSON.parse(lint.stdout).map((f: { rule: string }) => f.rule)).not.toContain(
      'BaseNotPinnedByDigest',
    );
    const built = buildInit(dir, ['--locked']);
    expect(built.code, built.stderr).toBe(0);
    expect(built.stderr).toContain(`wharf.lock: node:20-alpine pinned to ${digest}`);
  });

  it.skipIf(!requireTool('go'))(
    'the Go module, with --lock: builds FROM a look-alike golang:1.22-alpine with --locked, and runs',
    async () => {
      const { url } = testEnv().mirror;
      await ensureGoImage(testEnv().mirror);
      const dir = initIn('go-module', 'Go module', ['--lock', '--registry-mirror', url]);
      expect(Object.keys(JSON.parse(readFileSync(join(dir, 'wharf.lock'), 'utf8')).images)).toEqual([
        'golang:1.22-alpine',
      ]);
      const out = join(tempDir(), 'app.tar');
      const tag = 'wharf-e2e/init-go:latest';
      const built = buildInit(dir, ['--locked', '-t', tag, '-o', `type=docker-archive,dest=${out}`]);
      expect(built.code, built.stderr).toBe(0);
      expect(built.stderr).toContain('wharf.lock: golang:1.22-alpine pinned to sha256:');
      expect(await docker(['load', '-i', out])).toContain(`Loaded image: ${tag}`);
      expect(await docker(['run', '--rm', tag])).toBe('hello\n');
    },
    600_000,
  );
});
