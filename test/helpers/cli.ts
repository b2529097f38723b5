/** Runs the built `wharf` CLI (packages/cli/dist/main.js) as users do: a child process. */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { testEnv } from './env.js';
import { repoRoot, tempDir } from './paths.js';

export const cliPath = join(repoRoot, 'packages/cli/dist/main.js');

let built = false;
/** Builds the packages once per test process when dist/ is missing (CI builds before testing). */
export function ensureCliBuilt(): void {
  if (built || existsSync(cliPath)) {
    built = true;
    return;
  }
  execFileSync('pnpm', ['-s', 'build'], { cwd: repoRoot, stdio: 'inherit' });
  built = true;
}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Sub-commands that build, pull, push or talk to a registry: seconds to minutes under load. The sync
 * {@link wharf} refuses them (but for `--help`), because a spawnSync that long blocks the vitest worker's
 * event loop past its 60 s RPC timeout and CI fails with `Timeout calling "onTaskUpdate"` instead of
 * naming the test. Use {@link wharfAsync} for these.
 */
const SLOW_COMMANDS: ReadonlySet<string> = new Set([
  'build',
  'bake',
  'push',
  'pull',
  'lock',
  'sign',
  'verify',
  'attestations',
  'sbom',
  'login',
]);

/** How long a sync call may block the worker: well under vitest's 60 s RPC timeout. */
const SYNC_LIMIT_MS = 20_000;

/**
 * `wharf` as a blocking call, for quick ones only: `--help`, usage errors, parse-only commands
 * (`lint`, `dockerfile`, `convert`, `init`, `inspect` of a local file). Throws for a slow sub-command
 * and when the call outlives {@link SYNC_LIMIT_MS}, so the mistake fails its own test.
 */
export function wharf(
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): CliResult {
  const command = args.find((arg) => !arg.startsWith('-'));
  const slow =
    command !== undefined && SLOW_COMMANDS.has(command) && !args.includes('--help') && !args.includes('-h');
  const problem = `wharf ${args.join(' ')}: call it with wharfAsync, not the blocking wharf()`;
  if (slow) throw new Error(`${problem} (wharf ${command} can take long)`);
  ensureCliBuilt();
  const result = spawnSync(process.execPath, [cliPath, ...args], {
    cwd: options.cwd ?? repoRoot,
    env: { ...process.env, ...options.env },
    encoding: 'utf8',
    timeout: SYNC_LIMIT_MS,
  });
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT') {
    throw new Error(`${problem} (it blocked for over ${SYNC_LIMIT_MS / 1000} s)`);
  }
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** How {@link wharfAsync} runs the CLI. */
export interface AsyncCliOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Flags for node itself, before the CLI's path (e.g. `--require hook.cjs`). */
  nodeArgs?: readonly string[];
  /** A command that runs node for us, e.g. `['setpriv', '--reuid=65534', '--']` or `['runuser', '-u', user, '--']`. */
  wrapper?: readonly string[];
  /** Killed (SIGTERM) after this long; the default is 120 s. */
  timeoutMs?: number;
}

/**
 * `wharf` without blocking the test's event loop: for anything that builds, pulls, pushes or may take
 * more than a few seconds under load, and for commands that talk to servers the test itself runs
 * (e.g. mock Fulcio and Rekor).
 */
export function wharfAsync(args: readonly string[], options: AsyncCliOptions = {}): Promise<CliResult> {
  ensureCliBuilt();
  const argv = [...(options.wrapper ?? []), process.execPath, ...(options.nodeArgs ?? []), cliPath, ...args];
  const child = spawn(argv[0] as string, argv.slice(1), {
    cwd: options.cwd ?? repoRoot,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: options.timeoutMs ?? 120_000,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/**
 * `wharf build -f <dockerfile> <context>` as a test needs it: base images through the test mirror, lint
 * off, `--progress` as asked, a cache of its own; `args` go last (`--build-arg`, `-o`).
 */
export function buildDockerfile(
  dockerfile: string,
  context: string,
  options: { readonly cacheDir: string; readonly progress: string; readonly args?: readonly string[] },
): Promise<CliResult> {
  return wharfAsync([
    'build',
    '-f',
    dockerfile,
    context,
    '--progress',
    options.progress,
    '--lint',
    'off',
    '--cache-dir',
    options.cacheDir,
    '--registry-mirror',
    testEnv().mirror.url,
    ...(options.args ?? []),
  ]);
}

/**
 * `wharf build ARGS -o type=oci-archive,dest=<empty dir>/image.tar`, for tests of builds that must fail
 * cleanly: base images through the test mirror, quiet, a cache of its own. Returns the result with the
 * output folder (to check nothing was written) and the cache folder.
 */
export async function buildIntoEmptyDir(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<CliResult & { out: string; cacheDir: string }> {
  const out = tempDir('wharf-build-out-');
  const cacheDir = join(tempDir('wharf-build-cache-'), 'cache');
  const result = await wharfAsync(
    [
      'build',
      '--registry-mirror',
      testEnv().mirror.url,
      '--progress',
      'quiet',
      '--cache-dir',
      cacheDir,
      ...args,
      '-o',
      `type=oci-archive,dest=${join(out, 'image.tar')}`,
    ],
    { env },
  );
  return { ...result, out, cacheDir };
}
