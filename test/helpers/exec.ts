// Small process helpers shared by the other helpers: run a command, poll, detach a daemon, lock.
import { execFile, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface RunOptions {
  cwd?: string;
  /** Added to (not replacing) process.env. */
  env?: Record<string, string | undefined>;
  /** Written to stdin. */
  input?: string | Buffer;
  timeoutMs?: number;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Runs a command; resolves with its output, rejects with an Error that carries stderr. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = execFile(
      cmd,
      args,
      {
        cwd: opts.cwd,
        env: { ...process.env, ...opts.env },
        timeout: opts.timeoutMs ?? 0,
        maxBuffer: 256 * 1024 * 1024,
        encoding: 'utf8',
      },
      (err, stdout, stderr) => {
        if (err) {
          const code = (err as NodeJS.ErrnoException).code;
          const msg = `${cmd} ${args.join(' ')} failed (${code ?? err.message}):\n${stderr.trim() || stdout.trim()}`;
          reject(Object.assign(new Error(msg, { cause: err }), { stdout, stderr }));
        } else resolvePromise({ stdout, stderr });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns true; throws `what` (plus the last error) after `timeoutMs`. */
export async function waitFor(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (let delay = 50; ; delay = Math.min(delay * 2, 500)) {
    try {
      if (await probe()) return;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: last });
    await sleep(delay);
  }
}

/** True when a process with this pid exists (signal 0 probes without signalling). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The pid in `pidFile` if that process is alive AND is `name` (per /proc/PID/comm): pids in old pidfiles
 * get reused, and we must never signal an unrelated process.
 */
export function pidFromFile(pidFile: string, name: string): number | undefined {
  try {
    const pid = Number(readFileSync(pidFile, 'utf8'));
    if (pid > 0 && readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === name) return pid;
  } catch {
    // no pidfile, or no such process
  }
  return undefined;
}

/**
 * Starts a long-lived daemon that outlives this process (own session, output appended to `logFile`).
 * Used for dockerd and the mirror registry, which stay up between test runs so warm runs are fast.
 */
export function spawnDetached(
  cmd: string,
  args: readonly string[],
  logFile: string,
  env: NodeJS.ProcessEnv = process.env,
): number {
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd], env });
    if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** Sends SIGTERM, waits, then SIGKILL: for daemons we started (or were told we may replace). */
export async function stopPid(pid: number, graceMs = 20_000): Promise<void> {
  if (!isAlive(pid)) return;
  process.kill(pid, 'SIGTERM');
  try {
    await waitFor(`pid ${pid} to exit`, async () => !isAlive(pid), graceMs);
  } catch {
    if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    await waitFor(`pid ${pid} to die`, async () => !isAlive(pid), 5_000);
  }
}

/**
 * A cross-process lock (mkdir is atomic), so two concurrent `vitest run`s on one machine do not both
 * restart dockerd or rebuild base images. A lock whose holder died is taken over.
 */
export async function withLock<T>(dir: string, fn: () => Promise<T>, timeoutMs = 10 * 60_000): Promise<T> {
  const owner = join(dir, 'pid');
  await waitFor(
    `lock ${dir}`,
    async () => {
      try {
        mkdirSync(dir);
        writeFileSync(owner, String(process.pid));
        return true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        let holderGone: boolean;
        try {
          holderGone = !isAlive(Number(readFileSync(owner, 'utf8')));
        } catch {
          // No pid yet: the holder is between mkdir and write, or died there (then the dir grows old).
          holderGone = Date.now() - statSync(dir).mtimeMs > 30_000;
        }
        if (holderGone) rmSync(dir, { recursive: true, force: true });
        return false;
      }
    },
    timeoutMs,
  );
  try {
    return await fn();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
