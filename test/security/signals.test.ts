// Stopping a build: SIGTERM, SIGINT (and SIGKILL, swept by the next build) in the middle of a RUN that
// has a file secret and an env secret leave no container, no mount under the cache, no secret text on
// disk, and the next build gives the digest an uninterrupted one gives. `cache prune --all` during a
// build leaves what it needs alone. See docs/security/signals.md.
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cliPath, ensureCliBuilt, wharfAsync } from '../helpers/cli.js';
import { noDocker, testEnv } from '../helpers/env.js';
import { tempDir } from '../helpers/paths.js';

/** Where wharf keeps runc's state when it runs as root (runtime/run.ts `defaultStateRoot`). */
const RUNC_ROOT = '/run/wharf/runc';

const FILE_SECRET = `file-secret-${randomBytes(12).toString('hex')}`;
const ENV_SECRET = `env-secret-${randomBytes(12).toString('hex')}`;
// The secret's source file is the user's input: the one place its text may be on disk.
const secretDir = tempDir('wharf-signals-secret-src-');
const secretFile = join(secretDir, 'secret.txt');
writeFileSync(secretFile, FILE_SECRET);

const context = tempDir('wharf-signals-ctx-');
writeFileSync(
  join(context, 'Dockerfile'),
  'FROM busybox\n' +
    'RUN --mount=type=secret,id=file --mount=type=secret,id=tok,env=TOK ' +
    'test -s /run/secrets/file && test -n "$TOK" && echo started && sleep 3 && echo ok > /result\n',
);

/** `wharf build` with both secrets, writing an oci-archive to `out` (the printed digest is the manifest's). */
function buildArgs(cacheDir: string, out = join(tempDir('wharf-signals-out-'), 'image.tar')): string[] {
  return [
    'build',
    '-f',
    join(context, 'Dockerfile'),
    context,
    '--registry-mirror',
    testEnv().mirror.url,
    '--cache-dir',
    cacheDir,
    '--secret',
    `id=file,src=${secretFile}`,
    '--secret',
    'id=tok,env=TOK',
    '--progress',
    'json',
    '-o',
    `type=oci-archive,dest=${out}`,
  ];
}

const secretEnv = { TOK: ENV_SECRET };

/** The digest a finished build prints (its last stdout line). */
function printedDigest(stdout: string): string {
  const digest = stdout.trim().split('\n').at(-1) ?? '';
  expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  return digest;
}

interface Running {
  readonly child: ChildProcess;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

/** Starts a build and resolves once its RUN step prints `started` (the container is running). */
async function startBuild(cacheDir: string, out?: string): Promise<Running> {
  ensureCliBuilt();
  const child = spawn(process.execPath, [cliPath, ...buildArgs(cacheDir, out)], {
    env: { ...process.env, ...secretEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  const started = new Promise<void>((resolve, reject) => {
    // --progress json: events on stderr
    child.stderr?.on('data', (d) => {
      stderr += d;
      if (/"type":"log".*"text":"started"/.test(stderr)) resolve();
    });
    child.once('exit', () => reject(new Error(`the build ended before its RUN started: ${stderr}`)));
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>(
    (resolve) => child.once('exit', (code, signal) => resolve({ code, signal, stderr })),
  );
  await started;
  return { child, exit };
}

/** Containers a process left in runc's state (`wharf-<pid>-…`). */
function containersOf(pid: number): string[] {
  const list = spawnSync('runc', ['--root', RUNC_ROOT, 'list', '-q'], { encoding: 'utf8' });
  return list.stdout.split('\n').filter((id) => id.startsWith(`wharf-${pid}-`));
}

/** Mount points under `dir`, from this (the host's) mount namespace. */
function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((point) => point.startsWith(`${dir}/`));
}

/**
 * Files holding either secret's text in the cache, /dev/shm, /tmp and /run (not the secret's source).
 * Async: grep -r over a shared /tmp can take long, and a blocking call would stall the vitest worker.
 */
function filesWithSecrets(cacheDir: string): Promise<string[]> {
  const args = [
    '-rlsF',
    '-D',
    'skip',
    `--exclude-dir=${basename(secretDir)}`,
    '-e',
    FILE_SECRET,
    '-e',
    ENV_SECRET,
    '--',
    cacheDir,
    '/dev/shm',
    '/tmp',
    '/run',
  ];
  // grep exits 1 when nothing matched and 2 when some file could not be read: the list is what counts
  return new Promise((resolve) =>
    execFile('grep', args, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }, (_error, stdout) =>
      resolve(stdout.split('\n').filter(Boolean)),
    ),
  );
}

/** What a process left in memory: `wharf-<pid>-…` private directories. */
function privateDirsOf(pid: number): string[] {
  return readdirSync('/dev/shm').filter((name) => name.startsWith(`wharf-${pid}-`));
}

async function expectNothingLeft(pid: number, cacheDir: string): Promise<void> {
  expect(containersOf(pid)).toEqual([]);
  expect(mountsUnder(cacheDir)).toEqual([]);
  expect(privateDirsOf(pid)).toEqual([]);
  expect(await filesWithSecrets(cacheDir)).toEqual([]);
}

const asRoot = process.getuid?.() === 0;

describe.skipIf(noDocker() || !asRoot)('signals during a RUN with secrets', () => {
  let reference = '';
  beforeAll(async () => {
    const result = await wharfAsync(buildArgs(join(tempDir('wharf-signals-ref-'), 'cache')), {
      env: secretEnv,
    });
    expect(result.code, result.stderr).toBe(0);
    reference = printedDigest(result.stdout);
  });

  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
    ['SIGHUP', 129],
  ] as const) {
    it(`${signal} stops the step, cleans up and exits ${code}; the next build gives the same digest`, async () => {
      const cacheDir = join(tempDir('wharf-signals-cache-'), 'cache');
      const outDir = tempDir('wharf-signals-out-');
      const build = await startBuild(cacheDir, join(outDir, 'image.tar'));
      const pid = build.child.pid as number;
      expect(containersOf(pid)).toHaveLength(1);
      build.child.kill(signal);
      const ended = await build.exit;
      expect(ended.code, ended.stderr).toBe(code);
      expect(ended.stderr).toMatch(new RegExp(`stopped by ${signal}`));
      expect(ended.stderr).not.toMatch(/internal error|\n\s+at /);
      await expectNothingLeft(pid, cacheDir);
      expect(readdirSync(join(cacheDir, 'leases'))).toEqual([]);
      expect(readdirSync(outDir)).toEqual([]); // no output, not even a partial one

      const next = await wharfAsync(buildArgs(cacheDir), { env: secretEnv });
      expect(next.code, next.stderr).toBe(0);
      expect(printedDigest(next.stdout)).toBe(reference);
      expect(await filesWithSecrets(cacheDir)).toEqual([]);
    });
  }

  it('after SIGKILL the next build sweeps the container, mount, bundle and secrets it left', async () => {
    const cacheDir = join(tempDir('wharf-signals-cache-'), 'cache');
    const build = await startBuild(cacheDir);
    const pid = build.child.pid as number;
    // Stopped, not yet killed, while what it leaves is counted: any wharf process on the machine (another
    // test file's build) sweeps the containers and secrets of a dead one, which emptied this count.
    build.child.kill('SIGSTOP');
    try {
      // what a killed build leaves (the sweep's work)
      expect(containersOf(pid)).toHaveLength(1);
      expect(mountsUnder(cacheDir).length).toBeGreaterThan(0);
      expect(privateDirsOf(pid)).toHaveLength(1);
      // both secrets are there, in memory only (the bundle's config.json and the secret file)
      expect((await filesWithSecrets(cacheDir)).every((f) => f.startsWith(`/dev/shm/wharf-${pid}-`))).toBe(
        true,
      );
      expect(await filesWithSecrets(cacheDir)).toHaveLength(2);
      // a partial blob of the killed process
      const partial = join(cacheDir, 'blobs', 'sha256', `.tmp-${pid}-partial`);
      writeFileSync(partial, 'half a layer');
    } finally {
      build.child.kill('SIGKILL');
    }
    expect((await build.exit).signal).toBe('SIGKILL');

    const next = await wharfAsync(buildArgs(cacheDir), { env: secretEnv });
    expect(next.code, next.stderr).toBe(0);
    expect(printedDigest(next.stdout)).toBe(reference);
    await expectNothingLeft(pid, cacheDir);
    expect(readdirSync(join(cacheDir, 'blobs', 'sha256')).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
    expect(readdirSync(join(cacheDir, 'snapshots', 'runs')).filter((n) => n.startsWith(`${pid}-`))).toEqual(
      [],
    );
  });

  it('cache prune --all sweeps what a SIGKILLed build left', async () => {
    const cacheDir = join(tempDir('wharf-signals-cache-'), 'cache');
    const build = await startBuild(cacheDir);
    const pid = build.child.pid as number;
    build.child.kill('SIGKILL');
    await build.exit;
    const prune = await wharfAsync(['cache', 'prune', '--all', '--cache-dir', cacheDir]);
    expect(prune.code, prune.stderr).toBe(0);
    await expectNothingLeft(pid, cacheDir);
  });

  it('cache prune --all during a build leaves what it needs: the build succeeds with the same image', async () => {
    const cacheDir = join(tempDir('wharf-signals-cache-'), 'cache');
    // the output reads every blob, the base image's too: a prune that deleted them failed the build
    const archive = join(tempDir('wharf-signals-out-'), 'image.tar');
    const build = await startBuild(cacheDir, archive);
    const prune = await wharfAsync(['cache', 'prune', '--all', '--cache-dir', cacheDir]);
    expect(prune.code, prune.stderr).toBe(0);
    expect(prune.stderr).toMatch(new RegExp(`in use by a running build \\(pid ${build.child.pid}\\)`));
    let stdout = '';
    build.child.stdout?.on('data', (d) => {
      stdout += d;
    });
    const ended = await build.exit;
    expect(ended.code, ended.stderr).toBe(0);
    expect(printedDigest(stdout)).toBe(reference);
    expect(statSync(archive).size).toBeGreaterThan(0);
    // once it is over, prune removes everything
    const after = await wharfAsync(['cache', 'prune', '--all', '--cache-dir', cacheDir]);
    expect(after.code, after.stderr).toBe(0);
    mkdirSync(join(cacheDir, 'blobs', 'sha256'), { recursive: true });
    expect(readdirSync(join(cacheDir, 'blobs', 'sha256'))).toEqual([]);
  });
});
