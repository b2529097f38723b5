/**
 * Rootless builds with subordinate ids. When wharf is not root and the user has ranges in /etc/subuid
 * and /etc/subgid (with newuidmap/newgidmap from the uidmap package), `wharf build` and `wharf cache`
 * re-execute themselves in a user namespace that maps the caller to root and the ranges to 1…N, as
 * rootless podman and BuildKit (in RootlessKit) run. In there wharf is root of the namespace: layers
 * keep their owners and RUN steps may use any USER the ranges cover. Files it writes outside the cache
 * (outputs) belong to the caller; files in the cache may belong to subordinate ids (`wharf cache
 * prune` removes them). `WHARF_USERNS=off` keeps the process as it is: only root is mapped then.
 */
import { accessSync, constants as fsConstants, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants, userInfo } from 'node:os';
import { delimiter, join } from 'node:path';

interface Range {
  readonly start: number;
  readonly count: number;
}

/** The caller's first range in /etc/subuid or /etc/subgid (`name:start:count` or `uid:start:count`). */
export function subordinateRange(file: string, name: string, id: number): Range | undefined {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [owner, start, count] = line.trim().split(':');
    if (owner !== name && owner !== String(id)) continue;
    const range = { start: Number(start), count: Number(count) };
    if (Number.isInteger(range.start) && Number.isInteger(range.count) && range.count > 0) return range;
  }
  return undefined;
}

/**
 * `which` for the three tools. Not core's `which()` (runtime/exec.ts): this runs before anything else,
 * and importing @wharf/core here would load the whole library in a process that only re-executes.
 */
function findTool(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/sbin', '/bin', '/sbin'];
  for (const dir of dirs.filter(Boolean)) {
    try {
      accessSync(join(dir, name), fsConstants.X_OK);
      return join(dir, name);
    } catch {
      // next
    }
  }
  return undefined;
}

/** Commands that run RUN steps or touch the cache; `--backend docker` builds in dockerd instead. */
export function wantsNamespace(argv: readonly string[]): boolean {
  if (argv[0] === 'cache') return true;
  if (argv[0] !== 'build') return false;
  const i = argv.indexOf('--backend');
  return !(argv.includes('--backend=docker') || (i >= 0 && argv[i + 1] === 'docker'));
}

/**
 * Runs this wharf command again inside the namespace and resolves its exit code; undefined when it
 * should run here (root, not Linux, WHARF_USERNS=off, already inside, no ranges or tools, or the
 * kernel refuses: then builds fall back to mapping only root).
 */
export function reexecInUserNamespace(argv: readonly string[]): Promise<number> | undefined {
  if (process.platform !== 'linux' || process.getuid?.() === 0) return undefined;
  if (process.env.WHARF_USERNS === 'off' || process.env.WHARF_IN_USERNS === '1') return undefined;
  if (!wantsNamespace(argv)) return undefined;
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  let name = '';
  try {
    name = userInfo().username;
  } catch {
    // no passwd entry: ranges by uid only
  }
  const uids = subordinateRange('/etc/subuid', name, uid);
  const gids = subordinateRange('/etc/subgid', name, gid);
  const unshare = findTool('unshare');
  if (!uids || !gids || !unshare || !findTool('newuidmap') || !findTool('newgidmap')) return undefined;
  // Required here, not imported: every wharf command runs this module, few re-execute, and loading
  // child_process (with net and stream) cost a no-change build ~10–20 ms at start.
  const { spawn, spawnSync } = createRequire(import.meta.url)(
    'node:child_process',
  ) as typeof import('node:child_process');
  const count = Math.min(uids.count, gids.count);
  const namespace = [
    '--map-root-user',
    `--map-users=${uids.start},1,${count}`,
    `--map-groups=${gids.start},1,${count}`,
    '--mount',
  ];
  // newuidmap refuses ranges the user does not own, some kernels refuse user namespaces: try first.
  if (spawnSync(unshare, [...namespace, '--', 'true'], { stdio: 'ignore' }).status !== 0) return undefined;
  // Its own session: a terminal's Ctrl-C reaches only this process, which passes it on, so the child
  // gets each signal once (a second one would make it exit before cleaning up).
  const child = spawn(
    unshare,
    [...namespace, '--', process.execPath, ...process.execArgv, process.argv[1] as string, ...argv],
    {
      stdio: 'inherit',
      detached: true,
      env: { ...process.env, WHARF_IN_USERNS: '1' },
    },
  );
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => child.kill(signal));
  // Its exit is mirrored: a code as it is, a signal as 128 + its number.
  return new Promise((resolve) => {
    child.once('error', () => resolve(1));
    child.once('exit', (code, signal) =>
      resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0)),
    );
  });
}
