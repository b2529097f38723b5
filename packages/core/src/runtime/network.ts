/**
 * The network of a RUN step: a network namespace of its own with `lo` and outbound access through
 * slirp4netns (user-mode TCP/IP, works unprivileged), the host's loopback unreachable
 * (`--disable-host-loopback`), DNS through slirp's forwarder at 10.0.2.3. The way rootless BuildKit and
 * Podman do it; see the README for the measured alternatives (pasta, veth + NAT).
 *
 * A namespace is held by a small process (`unshare --net … cat`): runc joins it by path
 * (`/proc/<pid>/ns/net`), and it disappears when the holder exits. Holder and slirp4netns both end
 * when wharf closes their pipes — or when wharf dies, so a killed build leaves nothing behind.
 * Each step gets a fresh namespace; the next one is made while the current step runs (BuildKit keeps a
 * pool too), so a build of sequential RUN steps does not wait for slirp4netns.
 *
 * ```ts
 * const net = await acquireStepNetwork({ prefix: snapshot.runtimePrefix });
 * try { // spec: linux.namespaces [{ type: 'network', path: net.netns }], resolv.conf → net.nameserver
 * } finally { net.close(); }
 * ```
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { RuntimeError } from './errors.js';
import { which } from './exec.js';

/** slirp4netns's built-in DNS forwarder (its default network 10.0.2.0/24). */
export const SLIRP_NAMESERVER = '10.0.2.3';

export interface StepNetwork {
  /** The network namespace for `linux.namespaces` (`{ type: 'network', path }`). */
  readonly netns: string;
  /** With `ownUserns`: the user namespace owning it, which the container must join as well. */
  readonly userns?: string;
  /** The resolver the step's `/etc/resolv.conf` names. */
  readonly nameserver: string;
  /** Ends the holder and slirp4netns (the namespace goes once the container has exited too). */
  close(): void;
}

export interface StepNetworkOptions {
  /** Argv prefix the runtime runs with (the snapshotter's user namespace): the holder runs there too. */
  readonly prefix?: readonly string[];
  /**
   * Not root and no prefix: the holder makes a user namespace mapping root to the caller as well (the
   * container joins it instead of making its own), since only its owner may use a network namespace.
   */
  readonly ownUserns?: boolean;
}

/** A spare namespace per kind (prefix + ownUserns), made ahead for the next step. */
const spares = new Map<string, Promise<StepNetwork>>();
/** A spare nobody takes within this time is closed (the build is over). */
const SPARE_IDLE_MS = 20_000;

const spareKey = (options: StepNetworkOptions) =>
  JSON.stringify([options.prefix ?? [], options.ownUserns ?? false]);

/** A fresh network namespace for one step (from the spare when there is one); another is made ahead. */
export async function acquireStepNetwork(options: StepNetworkOptions = {}): Promise<StepNetwork> {
  const key = spareKey(options);
  const spare = spares.get(key);
  spares.delete(key);
  const network = await (spare ?? openStepNetwork(options)).catch(() => openStepNetwork(options));
  makeSpare(key, options);
  return network;
}

/**
 * Makes the spare namespace now, when there is none, so the first step takes it instead of waiting
 * for slirp4netns (the engine calls this while it unpacks a stage's base). Closed if no step takes
 * it within {@link SPARE_IDLE_MS}.
 */
export function prepareStepNetwork(options: StepNetworkOptions = {}): void {
  const key = spareKey(options);
  if (!spares.has(key)) makeSpare(key, options);
}

function makeSpare(key: string, options: StepNetworkOptions): void {
  const next = openStepNetwork(options);
  next.catch(() => spares.delete(key));
  spares.set(key, next);
  const idle = setTimeout(() => {
    if (spares.get(key) !== next) return;
    spares.delete(key);
    next.then((n) => n.close()).catch(() => {});
  }, SPARE_IDLE_MS);
  idle.unref();
}

/** Makes one namespace and starts slirp4netns on it. Errors: `RUNTIME_UNAVAILABLE`, `RUNTIME_FAILED`. */
export async function openStepNetwork(options: StepNetworkOptions = {}): Promise<StepNetwork> {
  const [unshare, slirp] = await Promise.all([which('unshare'), which('slirp4netns')]);
  if (!unshare || !slirp) {
    throw new RuntimeError(
      'RUNTIME_UNAVAILABLE',
      `RUN steps get their own network through slirp4netns, but ${slirp ? 'unshare' : 'slirp4netns'} is not installed`,
      {
        hint: 'install it (Debian: apt-get install slirp4netns util-linux), or build the step with RUN --network=none',
      },
    );
  }
  const [program, ...head] = [...(options.prefix ?? []), unshare];
  const own = options.ownUserns ? ['--user', '--map-root-user'] : [];
  // `echo` runs once the namespace exists; `cat` holds it until wharf closes stdin (or dies).
  const holder = spawn(
    program as string,
    [...head, ...own, '--net', '--', 'sh', '-c', 'echo ready && exec cat >/dev/null'],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let slirpProcess: ChildProcess | undefined;
  const close = () => {
    slirpProcess?.stdio[4]?.destroy();
    holder.stdin?.end();
  };
  try {
    const ready = await firstLine(holder);
    if (ready !== 'ready' || holder.pid === undefined) {
      throw new RuntimeError(
        'RUNTIME_FAILED',
        `cannot make a network namespace: ${ready || 'unshare exited'}`,
        {
          hint: 'unprivileged user namespaces may be disabled (kernel.unprivileged_userns_clone); RUN --network=none needs none',
        },
      );
    }
    // slirp4netns joins the holder's user namespace itself when it is not the initial one.
    const [slirpProgram, ...slirpHead] = [...slirpPrefix(unshare), slirp];
    slirpProcess = spawn(
      slirpProgram as string,
      [
        ...slirpHead,
        '--configure',
        '--mtu=65520',
        '--disable-host-loopback',
        '--enable-sandbox',
        '--enable-seccomp',
        '--ready-fd=3',
        '--exit-fd=4',
        String(holder.pid),
        'eth0',
      ],
      { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] },
    );
    const started = slirpProcess;
    const stderr: Buffer[] = [];
    started.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
    const configured = await new Promise<boolean>((resolve) => {
      started.once('error', () => resolve(false));
      started.once('exit', () => resolve(false));
      started.stdio[3]?.once('data', () => resolve(true));
    });
    if (!configured) {
      const said = Buffer.concat(stderr)
        .toString()
        .split('\n')
        .filter((line) => line.trim() && !line.startsWith('WARNING'))
        .join('; ');
      throw new RuntimeError(
        'RUNTIME_FAILED',
        `slirp4netns could not set up the step's network: ${said || 'it exited'}`,
        {
          hint: said.includes('/dev/net/tun')
            ? 'rootless networking needs /dev/net/tun open to your user (mode 0666, udev’s default): sudo chmod 0666 /dev/net/tun; or RUN --network=none'
            : 'RUN --network=none runs without it',
        },
      );
    }
    // keep draining: a closed pipe would end slirp4netns with SIGPIPE on its next message
    started.stderr?.removeAllListeners('data');
    started.stderr?.resume();
    for (const child of [holder, started]) {
      child.unref();
      for (const stream of child.stdio) (stream as { unref?: () => void } | null)?.unref?.();
    }
    return {
      netns: `/proc/${holder.pid}/ns/net`,
      ...(options.ownUserns ? { userns: `/proc/${holder.pid}/ns/user` } : {}),
      nameserver: SLIRP_NAMESERVER,
      close,
    };
  } catch (error) {
    close();
    slirpProcess?.kill('SIGKILL');
    holder.kill('SIGKILL');
    throw error;
  }
}

/**
 * Root starts slirp4netns in a mount namespace of its own whose mounts are all slaves (`unshare --mount
 * --propagation slave`). Its `--enable-sandbox` makes a new mount namespace, marks only `/` private,
 * and lazily unmounts the old root: run straight from root's namespace, where mounts are shared (dockerd
 * makes /var/lib/docker shared; systemd makes `/` shared), that unmount propagates back and takes the
 * host's mounts below a shared one with it — BuildKit's RUN rootfs, a container's overlay — so a build
 * beside wharf failed with `exec: "/bin/sh": … no such file or directory`. A slave never propagates back.
 * Not root, slirp4netns makes its namespace in a user namespace that is not the initial one, where the
 * kernel turns every copied shared mount into a slave itself.
 */
function slirpPrefix(unshare: string, uid = process.getuid?.()): string[] {
  return uid === 0 ? [unshare, '--mount', '--propagation', 'slave', '--'] : [];
}

/** The first line the process prints (empty when it exits first), with its stderr on failure. */
function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve) => {
    const err: Buffer[] = [];
    child.stderr?.on('data', (chunk: Buffer) => err.push(chunk));
    child.once('error', (e) => resolve(e.message));
    child.once('exit', () => resolve(Buffer.concat(err).toString().trim()));
    child.stdout?.once('data', (chunk: Buffer) => {
      child.stderr?.removeAllListeners('data');
      child.stderr?.resume();
      resolve(chunk.toString().trim());
    });
  });
}
