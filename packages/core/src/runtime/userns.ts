/**
 * A user and mount namespace in which wharf, not being root, can mount overlays (Linux ≥ 5.11 with
 * overlay's `userxattr`), the way rootless BuildKit runs inside RootlessKit's namespace.
 *
 * One long-lived `unshare --user --map-root-user --mount` process holds the namespaces (root inside is
 * the caller outside). Mounts and the runtime run inside it through `nsenter`; wharf itself reads and
 * writes the mounted trees through `/proc/<pid>/root`, which resolves paths in that mount namespace.
 * The holder reads its stdin until EOF, so it exits with wharf even when wharf is killed.
 *
 * ```ts
 * const ns = await UserNamespace.start('/var/cache/wharf/snapshots'); // undefined: not possible here
 * await ns.exec('mount', ['-t', 'overlay', 'overlay', '-o', 'lowerdir=l,upperdir=u,workdir=w,userxattr', 'm']);
 * await readFile(ns.hostPath('/var/cache/wharf/snapshots/m/etc/passwd')); // the merged view
 * ns.close();
 * ```
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { execTool, type ToolOptions, type ToolResult, which } from './exec.js';

/** Pids of the holders this process started and has not closed. */
const holders = new Set<number>();

/**
 * The path a program running inside one of our namespaces sees for `path` when it is a
 * {@link UserNamespace.hostPath} (`/proc/<holder>/root/x` → `/x`): a mount source named through
 * `/proc/<pid>/root` is a mount of another namespace, which the kernel refuses to bind. Other paths
 * are returned unchanged.
 */
export function insidePath(path: string): string {
  const m = /^\/proc\/(\d+)\/root(\/.*)?$/.exec(path);
  return m && holders.has(Number(m[1])) ? (m[2] ?? '/') : path;
}

export class UserNamespace {
  /** The holder's pid (in the host's pid namespace, which the namespace shares). */
  readonly pid: number;
  readonly #holder: ChildProcess;
  readonly #nsenter: string;

  private constructor(holder: ChildProcess, nsenter: string) {
    this.#holder = holder;
    this.pid = holder.pid as number;
    this.#nsenter = nsenter;
    holders.add(this.pid);
  }

  /**
   * Starts the holder with `cwd` as its working directory (commands run there, so mount options can
   * use paths relative to it). Undefined when `unshare`/`nsenter` are missing or the kernel refuses
   * unprivileged user namespaces.
   */
  static async start(cwd: string): Promise<UserNamespace | undefined> {
    const [unshare, nsenter] = await Promise.all([which('unshare'), which('nsenter')]);
    if (!unshare || !nsenter) return undefined;
    // `echo` only runs once the namespaces and the uid/gid maps exist: then nsenter can join them.
    const holder = spawn(
      unshare,
      ['--user', '--map-root-user', '--mount', '--', 'sh', '-c', 'echo ready && exec cat >/dev/null'],
      { cwd, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    const ready = await new Promise<boolean>((resolve) => {
      holder.once('error', () => resolve(false));
      holder.once('exit', () => resolve(false));
      holder.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString().startsWith('ready')));
    });
    if (!ready || holder.pid === undefined) {
      holder.kill('SIGKILL');
      return undefined;
    }
    holder.stdout.destroy();
    holder.stderr.destroy();
    // Neither the process nor its stdin pipe keeps Node alive; Node's exit closes the pipe, cat exits.
    holder.unref();
    (holder.stdin as unknown as { unref?: () => void }).unref?.();
    return new UserNamespace(holder, nsenter);
  }

  /** The argv prefix that runs a program inside, as root of the namespace, in the holder's cwd. */
  enter(): string[] {
    // --preserve-credentials: the caller's uid already is root inside (setgroups is denied in there).
    return [
      this.#nsenter,
      `--target=${this.pid}`,
      '--user',
      '--mount',
      '--preserve-credentials',
      '--wd',
      '--',
    ];
  }

  /** Runs `file args` inside the namespace. */
  exec(file: string, args: readonly string[], options: ToolOptions = {}): Promise<ToolResult> {
    const [command, ...prefix] = this.enter();
    return execTool(command as string, [...prefix, file, ...args], options);
  }

  /** Where an absolute path inside the namespace (mounts included) is seen from outside it. */
  hostPath(path: string): string {
    return `/proc/${this.pid}/root${path}`;
  }

  /** Ends the holder; mounts still inside the namespace go with it. */
  close(): void {
    holders.delete(this.pid);
    this.#holder.stdin?.end();
  }
}

export interface IdMapping {
  /** Running in a user namespace other than the initial one. */
  readonly inside: boolean;
  /** The host uid/gid that the current uid/gid is (itself outside a user namespace). */
  readonly hostUid: number;
  readonly hostGid: number;
  /** How many ids from 0 up are mapped (uids and gids both): 1 when only root is. */
  readonly mapped: number;
}

type MapLine = readonly [inner: number, outer: number, count: number];

function parseMap(text: string): MapLine[] {
  return text
    .trim()
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => line.trim().split(/\s+/).map(Number) as unknown as MapLine);
}

/** {@link IdMapping} from the text of `/proc/self/uid_map` and `gid_map`, for `uid`/`gid`. */
export function parseIdMapping(uidMap: string, gidMap: string, uid: number, gid: number): IdMapping {
  const uids = parseMap(uidMap);
  const gids = parseMap(gidMap);
  const initial =
    uids.length === 1 && uids[0]?.[0] === 0 && uids[0]?.[1] === 0 && uids[0]?.[2] === 4294967295;
  const host = (lines: MapLine[], id: number) => {
    const line = lines.find(([inner, , count]) => id >= inner && id < inner + count);
    return line ? line[1] + (id - line[0]) : id;
  };
  /** How many ids are mapped contiguously from 0. */
  const contiguous = (lines: MapLine[]) => {
    let next = 0;
    for (const [inner, , count] of [...lines].sort((a, b) => a[0] - b[0])) if (inner === next) next += count;
    return next;
  };
  return {
    inside: !initial,
    hostUid: host(uids, uid),
    hostGid: host(gids, gid),
    mapped: Math.min(contiguous(uids), contiguous(gids)),
  };
}

let mapping: IdMapping | undefined;

/**
 * This process's place in user namespaces, from `/proc/self/{uid,gid}_map`. Inside a namespace that
 * maps more than root (`wharf` re-executed with subordinate ids), wharf is root there and extracts
 * owners as they are, but is not root on the host: state and overlays follow the namespace's rules.
 */
export function idMapping(): IdMapping {
  if (mapping) return mapping;
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  try {
    const uidMap = readFileSync('/proc/self/uid_map', 'utf8');
    const gidMap = readFileSync('/proc/self/gid_map', 'utf8');
    mapping = parseIdMapping(uidMap, gidMap, uid, gid);
  } catch {
    mapping = { inside: false, hostUid: uid, hostGid: gid, mapped: Number.MAX_SAFE_INTEGER };
  }
  return mapping;
}
