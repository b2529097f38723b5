/**
 * Which OCI runtime runs RUN steps: `runc` or `crun` on PATH, or the one `WHARF_RUNTIME` names (a
 * program name or a path). Checked once, before a build does any work, so a machine without one fails
 * fast with the ways out (install a runtime, or build through Docker).
 */
import { RuntimeError } from './errors.js';
import { execTool, which } from './exec.js';

export interface RuntimeInfo {
  /** `runc`, `crun`, or the basename of what `WHARF_RUNTIME` points at. */
  readonly name: string;
  /** Absolute path of the executable. */
  readonly path: string;
  /** The version the runtime reports (`1.1.5+ds1`), or `unknown`. */
  readonly version: string;
}

export interface FindRuntimeOptions {
  /** Default `process.env` (`WHARF_RUNTIME`, `PATH`). */
  readonly env?: NodeJS.ProcessEnv;
  /** Default `process.platform`. */
  readonly platform?: NodeJS.Platform;
}

const CANDIDATES = ['runc', 'crun'] as const;
const HINT =
  'install runc or crun (Debian/Ubuntu: apt-get install runc; Fedora: dnf install crun), ' +
  'point WHARF_RUNTIME at one, or build with --backend docker';

const memo = new Map<string, Promise<RuntimeInfo>>();

/** The OCI runtime to use; `RUNTIME_UNAVAILABLE` when there is none (or the OS is not Linux). */
export function findRuntime(options: FindRuntimeOptions = {}): Promise<RuntimeInfo> {
  const env = options.env ?? process.env;
  const platform = options.platform ?? process.platform;
  const key = `${platform}\0${env.WHARF_RUNTIME ?? ''}\0${env.PATH ?? ''}`;
  let found = memo.get(key);
  if (!found) {
    found = locate(env, platform);
    memo.set(key, found);
    found.catch(() => memo.delete(key));
  }
  return found;
}

async function locate(env: NodeJS.ProcessEnv, platform: NodeJS.Platform): Promise<RuntimeInfo> {
  if (platform !== 'linux') {
    throw new RuntimeError(
      'RUNTIME_UNAVAILABLE',
      `RUN needs Linux containers, and this is ${platform}: the direct backend cannot run RUN steps here`,
      { hint: 'build with --backend docker (Docker Desktop runs a Linux VM), or build on Linux' },
    );
  }
  const wanted = env.WHARF_RUNTIME?.trim();
  if (wanted) {
    const path = await which(wanted, env);
    if (!path) {
      throw new RuntimeError('RUNTIME_UNAVAILABLE', `WHARF_RUNTIME=${wanted} is not an executable program`, {
        hint: HINT,
      });
    }
    return describe(path);
  }
  for (const name of CANDIDATES) {
    const path = await which(name, env);
    if (path) return describe(path);
  }
  throw new RuntimeError('RUNTIME_UNAVAILABLE', 'no OCI runtime found: RUN steps need runc or crun', {
    hint: HINT,
  });
}

async function describe(path: string): Promise<RuntimeInfo> {
  const name = path.slice(path.lastIndexOf('/') + 1);
  let result: Awaited<ReturnType<typeof execTool>>;
  try {
    result = await execTool(path, ['--version']);
  } catch (cause) {
    throw new RuntimeError('RUNTIME_UNAVAILABLE', `${path} cannot be started`, { hint: HINT, cause });
  }
  if (result.code !== 0) {
    throw new RuntimeError('RUNTIME_UNAVAILABLE', `${path} --version failed: ${result.stderr}`, {
      hint: HINT,
    });
  }
  return { name, path, version: parseVersion(result.stdout.toString('utf8')) };
}

/** `runc version 1.1.5+ds1\ncommit: …` → `1.1.5+ds1`; `crun version 1.8.1` → `1.8.1`. */
export function parseVersion(text: string): string {
  return /\bversion\s+(\S+)/i.exec(text)?.[1] ?? 'unknown';
}
