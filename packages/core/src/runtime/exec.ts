/**
 * Small process helpers for the host tools `runtime/` drives: `mount`/`umount`, GNU `tar` (overlay
 * whiteouts and xattrs, which Node cannot create), `cp -a`, and the OCI runtime itself (see run.ts).
 */
import { spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

export interface ToolResult {
  readonly code: number;
  readonly stdout: Buffer;
  readonly stderr: string;
}

export interface ToolOptions {
  readonly cwd?: string;
  /** Written to stdin, then stdin is closed. */
  readonly input?: Uint8Array | string;
  readonly env?: NodeJS.ProcessEnv;
  /** Open descriptors the program inherits as fd 3, 4, … (it reaches them as `/proc/self/fd/3`, …). */
  readonly fds?: readonly number[];
}

/** Runs `file args`, collecting output. Rejects only when the program cannot be started (ENOENT…). */
export function execTool(
  file: string,
  args: readonly string[],
  options: ToolOptions = {},
): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe', ...(options.fds ?? [])],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => err.push(chunk));
    child.once('error', reject);
    child.once('close', (code, signal) =>
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out),
        stderr: Buffer.concat(err).toString('utf8').trim(),
      }),
    );
    if (options.input !== undefined) {
      child.stdin?.on('error', () => {}); // EPIPE when the tool exits early: its exit code tells
      child.stdin?.end(options.input);
    }
  });
}

/** Like {@link execTool}, but a non-zero exit rejects with `message` plus the tool's stderr. */
export async function mustExec(
  file: string,
  args: readonly string[],
  options: ToolOptions = {},
): Promise<ToolResult> {
  const result = await execTool(file, args, options);
  if (result.code !== 0) {
    throw new Error(`${file} ${args.join(' ')} exited ${result.code}: ${result.stderr || '(no output)'}`);
  }
  return result;
}

/** Directories searched besides PATH: runc and mount live in sbin, which a non-login PATH may lack. */
const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/local/bin', '/usr/bin', '/bin'];

/** The absolute path of an executable named `name` on PATH (then the sbin dirs), or undefined. */
export async function which(name: string, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  if (name.includes('/')) return (await isExecutable(name)) ? name : undefined;
  const dirs = [...(env.PATH ?? '').split(delimiter).filter(Boolean), ...SBIN];
  for (const dir of new Set(dirs)) {
    const candidate = join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
