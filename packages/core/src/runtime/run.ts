/**
 * One RUN step from start to change set: prepare the rootfs (snapshotter), resolve USER inside it,
 * create the working directory, prepare mounts and their mount points, write the bundle, run
 * `runc run` with output streamed line by line, then compute what changed. Every path out — success,
 * non-zero exit, abort, timeout, a thrown error — deletes the container (`run` does on a normal exit),
 * releases locks and secret files and unmounts; the snapshot itself is kept until the caller commits
 * or releases it.
 */
import { spawn } from 'node:child_process';
import { lstat, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import type { Digest } from '../oci/index.js';
import {
  capabilityNames,
  createSpec,
  hostsFile,
  type NetworkMode,
  resolvConfFor,
  type SecurityMode,
  type SpecHook,
} from './bundle.js';
import type { ChangeSet } from './changes.js';
import { findRuntime, type RuntimeInfo } from './detect.js';
import { RunFailedError, RuntimeError } from './errors.js';
import { execTool, which } from './exec.js';
import {
  checkMountInputs,
  type MadeMountPoint,
  mountStubs,
  prepareMounts,
  type ResolvedMount,
  type SecretSource,
} from './mounts.js';
import {
  acquireStepNetwork,
  prepareStepNetwork,
  type StepNetwork,
  type StepNetworkOptions,
} from './network.js';
import { stepPrivateDir } from './private-dir.js';
import { createInRoot } from './rootfs.js';
import type { Snapshot, SnapshotLayer, Snapshotter } from './snapshotter.js';
import { resolveUser } from './user.js';
import { idMapping } from './userns.js';

export type OutputStream = 'stdout' | 'stderr';
export type OutputHandler = (line: string, stream: OutputStream) => void;

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** How many lines of output a `RUN_FAILED` error carries. */
export const TAIL_LINES = 20;

export interface RunStepOptions {
  readonly snapshotter: Snapshotter;
  /** From {@link findRuntime}; found (once per process) when absent. */
  readonly runtime?: RuntimeInfo;
  /** The stage's layers so far, bottom first (base image layers, then this stage's). */
  readonly layers: readonly SnapshotLayer[];
  /** The argv: exec form as written, shell form as `[...SHELL, script]` (engine: `commandArgv`). */
  readonly command: readonly string[];
  /** `KEY=VALUE`: the image's Env, then the ARG values the step sees. */
  readonly env?: readonly string[];
  /** The stage's USER (`name`, `uid`, `name:group`, `uid:gid`), resolved in the rootfs. Default root. */
  readonly user?: string;
  /** WORKDIR (absolute); created if missing. Default `/`. */
  readonly cwd?: string;
  readonly mounts?: readonly ResolvedMount[];
  readonly network?: NetworkMode;
  /** `insecure` (every capability, no seccomp) only when the build holds `security.insecure`. */
  readonly security?: SecurityMode;
  /** Secret id → where its value is. */
  readonly secrets?: Readonly<Record<string, SecretSource>>;
  /** ssh id → agent socket path (`default` falls back to `SSH_AUTH_SOCK`). */
  readonly ssh?: Readonly<Record<string, string>>;
  /** Default `buildkitsandbox`. */
  readonly hostname?: string;
  /** Where `--mount=type=cache` directories live; default `<snapshotter root>/../cache-mounts`. */
  readonly cacheRoot?: string;
  /** Each line the command prints (without the newline), as it arrives. */
  readonly onOutput?: OutputHandler;
  /** Stops the step: the container is killed, `RUN_ABORTED`. */
  readonly signal?: AbortSignal;
  /** Kills the container after this long, `RUN_TIMEOUT`. Default: no limit. */
  readonly timeoutMs?: number;
  /** `process.env` by default: `SSH_AUTH_SOCK`, secrets given as `{ env }`. */
  readonly hostEnv?: NodeJS.ProcessEnv;
}

export interface RunStepTimings {
  readonly prepareMs: number;
  readonly runMs: number;
  readonly diffMs: number;
}

export interface RunStepResult extends ChangeSet {
  readonly timings: RunStepTimings;
  /** The snapshot the step ran in (its `changesDir` holds the files the entries point at). */
  readonly snapshot: Snapshot;
  /**
   * After the layer is written (`writeLayer(store, result.entries)`), keep the snapshot as the extracted
   * form of that layer: the next RUN on this chain + `diffId` starts from it without extracting.
   */
  commitSnapshot(diffId: Digest): Promise<void>;
  /** Drops the snapshot (a no-op after {@link commitSnapshot}). Entries' file paths are invalid afterwards. */
  release(): Promise<void>;
}

/** Runs one RUN step and returns its change set. Errors: `RUN_FAILED`, `RUN_ABORTED`, `RUN_TIMEOUT`, … */
export async function runStep(options: RunStepOptions): Promise<RunStepResult> {
  const started = Date.now();
  const runtime = options.runtime ?? (await findRuntime());
  const hostEnv = options.hostEnv ?? process.env;
  const mounts = options.mounts ?? [];
  const secrets = options.secrets ?? {};
  const ssh = options.ssh ?? {};
  await checkMountInputs(mounts, { secrets, ssh, env: hostEnv });
  options.signal?.throwIfAborted();

  const snapshot = await options.snapshotter.prepare(
    options.layers,
    options.signal ? { signal: options.signal } : {},
  );
  try {
    const rootfs = snapshot.rootfs;
    const cwd = posix.resolve('/', options.cwd || '/');
    const network = options.network ?? 'default';
    const hostname = options.hostname ?? 'buildkitsandbox';
    const user = await resolveUser(rootfs, options.user);
    const rootless = process.getuid?.() !== 0;
    // Root in a user namespace (wharf re-executed with subordinate ids): every mapped id can be used.
    const ids = idMapping();
    const mapped = rootless ? 1 : ids.inside ? ids.mapped : Number.MAX_SAFE_INTEGER;
    const unmapped = [user.uid, user.gid, ...user.additionalGids].filter((id) => id >= mapped);
    if (unmapped.length > 0) {
      throw new RuntimeError(
        'RUNTIME_UNAVAILABLE',
        mapped === 1
          ? `USER ${options.user} (${user.uid}:${user.gid}) cannot run rootless: only root is mapped into the container`
          : `USER ${options.user} (${user.uid}:${user.gid}) is not mapped: this user namespace maps ids 0–${mapped - 1}`,
        {
          hint:
            mapped === 1
              ? 'give your user subordinate ids (/etc/subuid and /etc/subgid, and newuidmap from the uidmap package) so wharf maps them, run wharf as root, or build with --backend docker'
              : 'give your user a larger range in /etc/subuid and /etc/subgid, run wharf as root, or build with --backend docker',
        },
      );
    }
    await createInRoot(rootfs, cwd, { kind: 'dir' });

    // The bundle (env= secrets are in its config.json) and secret files live in memory only.
    const privateDir = await stepPrivateDir(snapshot.id);
    const prepared = await prepareMounts(mounts, {
      cwd,
      cacheRoot: options.cacheRoot ?? defaultCacheRoot(options.snapshotter.root),
      scratch: snapshot.scratch,
      // writable binds get an overlay mounted in wharf's namespace, which a namespaced runtime cannot see
      overlay: snapshot.mode === 'overlay' && snapshot.runtimePrefix.length === 0,
      secrets,
      ssh,
      env: hostEnv,
      ...(privateDir ? { secretDir: privateDir.path } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    }).catch(async (error) => {
      await privateDir?.remove();
      throw error;
    });
    const remove: string[] = [];
    let prepareMs = 0;
    let runMs = 0;
    let runStarted = Date.now();
    let net: StepNetwork | undefined;
    try {
      const inNamespace = runsInNamespace(snapshot.runtimePrefix, ids);
      if (network === 'default') net = await acquireStepNetwork(networkOptions(snapshot.runtimePrefix));
      const etcDir = join(snapshot.scratch, 'etc');
      await mkdir(etcDir, { recursive: true });
      const hostResolv = await readFile('/etc/resolv.conf', 'utf8').catch(() => '');
      const etc = {
        resolvConf: join(etcDir, 'resolv.conf'),
        hosts: join(etcDir, 'hosts'),
        hostname: join(etcDir, 'hostname'),
      };
      await writeFile(etc.resolvConf, resolvConfFor(hostResolv, network, net?.nameserver));
      await writeFile(etc.hosts, hostsFile(hostname));
      await writeFile(etc.hostname, `${hostname}\n`);

      // /proc, /dev and /sys stay as empty directories in the change set when a step creates them, as
      // BuildKit leaves them (moby/buildkit#3455); what is mounted on them never reaches the upper dir.
      for (const target of ['/proc', '/dev', '/sys']) await createInRoot(rootfs, target, { kind: 'dir' });
      // Mount points: what had to be created stays in the layer as BuildKit 20.10 leaves it (empty
      // directories), except file stubs and stubs below another mount (see mountStubs).
      const points = [
        ...prepared.points,
        { target: '/etc/resolv.conf', kind: 'file' as const },
        { target: '/etc/hosts', kind: 'file' as const },
        { target: '/etc/hostname', kind: 'file' as const },
      ];
      const made: MadeMountPoint[] = [];
      for (const point of points) {
        made.push({ ...(await createInRoot(rootfs, point.target, { kind: point.kind })), kind: point.kind });
      }
      remove.push(...mountStubs(made));

      const args = [...options.command];
      if (args.length === 0) throw new RuntimeError('RUN_FAILED', 'RUN needs a command');
      const env = [...(options.env ?? []), ...prepared.env];
      if (!env.some((e) => e.startsWith('PATH='))) env.unshift(DEFAULT_PATH);
      const hooks = network === 'none' ? await loopbackUpHook() : [];
      const spec = createSpec({
        rootfs: snapshot.runtimeRootfs,
        args,
        env,
        cwd,
        user,
        hostname,
        network,
        ...(net ? { join: { netns: net.netns, ...(net.userns ? { userns: net.userns } : {}) } } : {}),
        ...(options.security === 'insecure'
          ? { security: 'insecure' as const, ownCapabilities: await boundingCapabilities() }
          : {}),
        etc,
        mounts: prepared.specMounts,
        ...(rootless || ids.inside
          ? {
              rootless: {
                uid: process.getuid?.() ?? 0,
                gid: process.getgid?.() ?? 0,
                // the snapshotter's namespace, or the one wharf runs in: no user namespace of its own
                inNamespace,
              },
            }
          : {}),
        createRuntimeHooks: hooks,
      });
      const bundle = privateDir?.path ?? join(snapshot.scratch, 'bundle');
      await mkdir(bundle, { recursive: true });
      await writeFile(join(bundle, 'config.json'), JSON.stringify(spec), { mode: 0o600 });

      runStarted = Date.now();
      prepareMs = runStarted - started;
      const exit = await runContainer({
        runtime,
        bundle,
        prefix: snapshot.runtimePrefix,
        id: containerId(snapshot.id),
        logFile: join(snapshot.scratch, 'runtime.log'),
        ...(options.onOutput ? { onOutput: options.onOutput } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      });
      runMs = Date.now() - runStarted;
      if (exit.stopped === 'abort') {
        throw new RuntimeError('RUN_ABORTED', `${describe(args)} was stopped`, {
          cause: options.signal?.reason,
        });
      }
      if (exit.stopped === 'timeout') {
        throw new RuntimeError(
          'RUN_TIMEOUT',
          `${describe(args)} did not finish within ${options.timeoutMs} ms`,
          {
            hint: 'raise the step timeout, or find out why the command hangs (it may wait for input or the network)',
          },
        );
      }
      if (exit.runtimeError) {
        throw new RuntimeError(
          'RUNTIME_FAILED',
          `${runtime.name} could not run ${describe(args)}: ${exit.runtimeError}`,
          {
            hint: exit.runtimeError.includes('executable file not found')
              ? 'the program is not in the image (or not on PATH): install it in an earlier step or use its full path'
              : `see ${runtime.name}'s message; WHARF_RUNTIME selects another runtime`,
          },
        );
      }
      if (exit.exitCode !== 0) {
        throw new RunFailedError({ command: args, exitCode: exit.exitCode, lastLines: exit.lastLines });
      }
    } finally {
      net?.close();
      await prepared.cleanup();
      await privateDir?.remove();
    }
    const diffStarted = Date.now();
    // files whose ctime is older than the container start were not touched by the command (copy mode)
    const changes = await snapshot.diff({ remove, since: runStarted });
    const timings = { prepareMs, runMs, diffMs: Date.now() - diffStarted };
    return {
      ...changes,
      timings,
      snapshot,
      commitSnapshot: (diffId) => snapshot.commit(diffId),
      release: () => snapshot.release(),
    };
  } catch (error) {
    await snapshot.release().catch(() => {});
    throw error;
  }
}

/** Which step networks a runtime started with `prefix` joins: the key of the spare made ahead. */
function networkOptions(prefix: readonly string[]): StepNetworkOptions {
  const rootless = process.getuid?.() !== 0;
  return { prefix, ownUserns: rootless && !runsInNamespace(prefix, idMapping()) };
}

/** Whether steps run inside a user namespace: the runtime's (`prefix` enters it) or wharf's own. */
function runsInNamespace(prefix: readonly string[], ids: { readonly inside: boolean }): boolean {
  return prefix.length > 0 || ids.inside;
}

/**
 * Starts making the network namespace the first RUN step on `snapshotter` will join, so that step
 * does not wait for slirp4netns; the engine calls it while it unpacks the stage's base.
 */
export function warmUpStepNetwork(snapshotter: Snapshotter): void {
  prepareStepNetwork(networkOptions(snapshotter.userns?.enter() ?? []));
}

/**
 * `wharf-<snapshot id>`, and snapshot ids start with the pid (`<pid>-<random>`): the sweep
 * (snapshot-gc.ts) finds the containers of killed builds by it.
 */
function containerId(snapshotId: string): string {
  return `wharf-${snapshotId}`;
}

function describe(args: readonly string[]): string {
  return `process ${JSON.stringify(args.join(' '))}`;
}

/** This process's capability bounding set (what an `insecure` step may get). */
async function boundingCapabilities(): Promise<string[] | undefined> {
  const status = await readFile('/proc/self/status', 'utf8').catch(() => '');
  const mask = /^CapBnd:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  return mask ? capabilityNames(BigInt(`0x${mask}`)) : undefined;
}

/** A `createRuntime` hook that brings `lo` up in a new network namespace (needs nsenter and ip on the host). */
async function loopbackUpHook(): Promise<SpecHook[]> {
  const [sh, nsenter, ip] = await Promise.all([which('sh'), which('nsenter'), which('ip')]);
  if (!sh || !nsenter || !ip) return [];
  // The hook gets the container state (JSON, one line) on stdin; its pid is the container's init.
  const script = `pid=$(sed -n 's/.*"pid":[[:space:]]*\\([0-9][0-9]*\\).*/\\1/p'); exec ${nsenter} -t "$pid" -n ${ip} link set lo up`;
  return [{ path: sh, args: ['sh', '-c', script], timeout: 10 }];
}

export interface RunContainerOptions {
  readonly runtime: RuntimeInfo;
  /** A directory holding `config.json`. */
  readonly bundle: string;
  /** Argv that runs the runtime (e.g. `nsenter …` into the snapshotter's user namespace). Default none. */
  readonly prefix?: readonly string[];
  readonly id: string;
  /** The runtime's own log (JSON lines); its errors are reported, kept apart from the command's stderr. */
  readonly logFile: string;
  /** The runtime's state directory (`--root`). Default `/run/wharf/runc` as root. */
  readonly stateRoot?: string;
  readonly onOutput?: OutputHandler;
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
}

export interface ContainerExit {
  readonly exitCode: number;
  /** The last {@link TAIL_LINES} lines of output, stdout and stderr interleaved. */
  readonly lastLines: readonly string[];
  /** What the runtime logged at error level (it could not start the container, or the exec failed). */
  readonly runtimeError?: string;
  /** Set when the container was killed because of the signal or the timeout. */
  readonly stopped?: 'abort' | 'timeout';
}

/** The runtime's state directory for this user. */
export function defaultStateRoot(): string {
  const ids = idMapping();
  if (process.getuid?.() === 0 && !ids.inside) return '/run/wharf/runc';
  // One per (host) user under a shared tmpdir: another user's 0700 directory would be unusable.
  if (process.env.XDG_RUNTIME_DIR) return join(process.env.XDG_RUNTIME_DIR, 'wharf-runc');
  return join(tmpdir(), `wharf-runc-${ids.hostUid}`);
}

/** `runc run --bundle DIR ID`, output streamed by line; the container is always deleted afterwards. */
export async function runContainer(options: RunContainerOptions): Promise<ContainerExit> {
  const rt = options.runtime;
  const stateRoot = options.stateRoot ?? defaultStateRoot();
  await mkdir(stateRoot, { recursive: true, mode: 0o700 });
  const global = ['--root', stateRoot, '--log', options.logFile, '--log-format', 'json'];
  // The runtime (run, kill, delete) always starts through the prefix: its state lives in that namespace.
  const [program, ...head] = [...(options.prefix ?? []), rt.path];
  const runtime = (args: readonly string[]) => execTool(program as string, [...head, ...global, ...args]);
  const tail: string[] = [];
  const push = (line: string, stream: OutputStream) => {
    tail.push(line);
    if (tail.length > TAIL_LINES) tail.shift();
    options.onOutput?.(line, stream);
  };
  let stopped: 'abort' | 'timeout' | undefined;
  const child = spawn(
    program as string,
    [...head, ...global, 'run', '--bundle', options.bundle, options.id],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const kill = (why: 'abort' | 'timeout') => {
    if (stopped) return;
    stopped = why;
    void runtime(['kill', options.id, 'KILL']).then((r) => {
      // not created yet (or already gone): stop runc itself; `delete -f` below removes what is left
      if (r.code !== 0) child.kill('SIGKILL');
    });
  };
  const onAbort = () => kill('abort');
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const timer =
    options.timeoutMs === undefined ? undefined : setTimeout(() => kill('timeout'), options.timeoutMs);
  try {
    if (options.signal?.aborted) kill('abort');
    const done = new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) =>
        resolve(code ?? (signal ? 128 + (signalNumber(signal) ?? 9) : 1)),
      );
    });
    await Promise.all([
      splitLines(child.stdout, (line) => push(line, 'stdout')),
      splitLines(child.stderr, (line) => push(line, 'stderr')),
    ]);
    const exitCode = await done;
    const runtimeError = await runtimeErrors(options.logFile);
    return {
      exitCode,
      lastLines: tail,
      ...(runtimeError ? { runtimeError } : {}),
      ...(stopped ? { stopped } : {}),
    };
  } catch (cause) {
    throw new RuntimeError('RUNTIME_FAILED', `cannot start ${rt.path}`, { cause });
  } finally {
    if (timer) clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
    // `run` removes the container when it exits; one left behind (killed, failed to start) still
    // has its state directory. Through a prefix (another namespace) the state is not checked here.
    const left = options.prefix?.length ? true : await exists(join(stateRoot, options.id));
    if (left) await runtime(['delete', '-f', options.id]).catch(() => {});
  }
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    (error: NodeJS.ErrnoException) => error.code !== 'ENOENT',
  );
}

function signalNumber(signal: NodeJS.Signals): number | undefined {
  const table: Partial<Record<NodeJS.Signals, number>> = { SIGKILL: 9, SIGTERM: 15, SIGINT: 2, SIGHUP: 1 };
  return table[signal];
}

async function splitLines(stream: NodeJS.ReadableStream | null, emit: (line: string) => void): Promise<void> {
  if (!stream) return;
  let partial = '';
  const decoder = new TextDecoder();
  for await (const chunk of stream) {
    partial += decoder.decode(chunk as Buffer, { stream: true });
    let nl = partial.indexOf('\n');
    while (nl >= 0) {
      emit(partial.slice(0, nl).replace(/\r$/, ''));
      partial = partial.slice(nl + 1);
      nl = partial.indexOf('\n');
    }
  }
  partial += decoder.decode();
  if (partial !== '') emit(partial.replace(/\r$/, ''));
}

/** Error-level messages from the runtime's JSON log. */
async function runtimeErrors(logFile: string): Promise<string | undefined> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  await rm(logFile, { force: true }).catch(() => {});
  const messages: string[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const entry = JSON.parse(line) as { level?: string; msg?: string };
      if ((entry.level === 'error' || entry.level === 'fatal') && entry.msg) messages.push(entry.msg);
    } catch {
      if (/error/i.test(line)) messages.push(line.trim());
    }
  }
  return messages.length ? messages.join('; ') : undefined;
}

/** Where `--mount=type=cache` directories live by default: beside the snapshotter's root. */
export function defaultCacheRoot(snapshotterRoot: string): string {
  return join(dirname(snapshotterRoot), 'cache-mounts');
}
