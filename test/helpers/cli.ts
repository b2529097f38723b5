/** Runs the built `wharf` CLI (packages/cli/dist/main.js) as users do: a child process. */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { testEnv } from './env.js';
import { repoRoot } from './paths.js';

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

export function wharf(
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): CliResult {
  ensureCliBuilt();
  const result = spawnSync(process.execPath, [cliPath, ...args], {
    cwd: options.cwd ?? repoRoot,
    env: { ...process.env, ...options.env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/**
 * `wharf` without blocking the test's event loop: for commands that talk to servers the test itself runs
 * (e.g. mock Fulcio and Rekor).
 */
export function wharfAsync(
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<CliResult> {
  ensureCliBuilt();
  const child = spawn(process.execPath, [cliPath, ...args], {
    cwd: options.cwd ?? repoRoot,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 120_000,
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
): CliResult {
  return wharf([
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
