/**
 * The OCI runtime bundle's `config.json` for one RUN step: a pure function from what the step needs
 * to a runtime-spec document, shaped like the spec BuildKit's runc executor generates (Docker's default
 * capabilities and seccomp filter, no new privileges, masked and read-only /proc and /sys paths, /proc
 * /dev /dev/pts /dev/shm /dev/mqueue /sys, the generated resolv.conf/hosts/hostname bind-mounted
 * read-only), so commands behave as they do under `docker build`. `security: 'insecure'` lifts the
 * sandbox as BuildKit's does (every capability, no filter, nothing masked).
 */
import { defaultSeccompProfile, type SeccompProfile } from './seccomp.js';

/** The subset of the OCI runtime spec (v1.0.2) that wharf writes. */
export interface RuntimeSpec {
  readonly ociVersion: string;
  readonly process: {
    readonly terminal: boolean;
    readonly user: {
      readonly uid: number;
      readonly gid: number;
      readonly additionalGids?: readonly number[];
    };
    readonly args: readonly string[];
    readonly env: readonly string[];
    readonly cwd: string;
    readonly capabilities: {
      readonly bounding: readonly string[];
      readonly effective: readonly string[];
      readonly permitted: readonly string[];
    };
    readonly noNewPrivileges: boolean;
  };
  readonly root: { readonly path: string; readonly readonly: boolean };
  readonly hostname: string;
  readonly mounts: readonly SpecMount[];
  readonly hooks?: { readonly createRuntime?: readonly SpecHook[] };
  readonly linux: {
    readonly namespaces: readonly { readonly type: string; readonly path?: string }[];
    readonly uidMappings?: readonly IdMapping[];
    readonly gidMappings?: readonly IdMapping[];
    readonly resources?: {
      readonly devices: readonly { readonly allow: boolean; readonly access: string }[];
    };
    readonly maskedPaths: readonly string[];
    readonly readonlyPaths: readonly string[];
    readonly seccomp?: SeccompProfile;
  };
}

export interface SpecMount {
  readonly destination: string;
  readonly type: string;
  readonly source: string;
  readonly options: readonly string[];
}

export interface SpecHook {
  readonly path: string;
  readonly args: readonly string[];
  readonly timeout?: number;
}

export interface IdMapping {
  readonly containerID: number;
  readonly hostID: number;
  readonly size: number;
}

/**
 * `default`: a network namespace of the step's own with outbound access (network.ts); `none`: its own
 * with only `lo`; `host`: the host's (needs the `network.host` entitlement).
 */
export type NetworkMode = 'default' | 'none' | 'host';

/** `sandbox` (default) or `insecure`: every capability, no seccomp (needs `security.insecure`). */
export type SecurityMode = 'sandbox' | 'insecure';

export interface ResolvedUser {
  readonly uid: number;
  readonly gid: number;
  readonly additionalGids: readonly number[];
}

export interface SpecInput {
  /** Absolute path of the root filesystem. */
  readonly rootfs: string;
  readonly args: readonly string[];
  /** `KEY=VALUE`. */
  readonly env: readonly string[];
  /** Absolute path inside the container. */
  readonly cwd: string;
  readonly user: ResolvedUser;
  /** Default `buildkitsandbox`, the name BuildKit gives its RUN containers. */
  readonly hostname?: string;
  readonly network?: NetworkMode;
  /**
   * The namespaces to join (network.ts) for `network: 'default'`; without them the runtime makes an
   * empty one. `userns`: a user namespace owning the network one, joined instead of making one.
   */
  readonly join?: { readonly netns: string; readonly userns?: string };
  readonly security?: SecurityMode;
  /**
   * What `insecure` grants: every capability the runtime itself holds (its bounding set; runc fails
   * on one it lacks). Default: every capability.
   */
  readonly ownCapabilities?: readonly string[];
  /** Node's `process.arch` of the machine the runtime runs on (seccomp architectures); default this one. */
  readonly arch?: string;
  /** Host files bind-mounted (read-only) over `/etc/resolv.conf`, `/etc/hosts`, `/etc/hostname`. */
  readonly etc?: { readonly resolvConf?: string; readonly hosts?: string; readonly hostname?: string };
  /** Step mounts (cache, bind, secret, tmpfs, ssh), after the standard ones. */
  readonly mounts?: readonly SpecMount[];
  /**
   * Rootless: map container root to this host uid/gid in a new user namespace (no device cgroup,
   * sysfs bind-mounted instead of mounted, no mqueue). With `inNamespace`, the runtime already runs
   * in a user namespace with that mapping (the snapshotter's): the container gets no user namespace
   * of its own.
   */
  readonly rootless?: { readonly uid: number; readonly gid: number; readonly inNamespace?: boolean };
  /** A command run on the host once the namespaces exist (e.g. to bring `lo` up). */
  readonly createRuntimeHooks?: readonly SpecHook[];
}

/**
 * Docker's (and BuildKit's) default capability set. CAP_NET_RAW stays, as in both: a step's raw
 * sockets only see its own network namespace.
 */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/** Capability names by bit number (linux/capability.h, up to Linux 5.9's CHECKPOINT_RESTORE). */
const CAPABILITY_BITS: readonly string[] = (
  'CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP LINUX_IMMUTABLE ' +
  'NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE SYS_RAWIO SYS_CHROOT ' +
  'SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE ' +
  'AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ ' +
  'PERFMON BPF CHECKPOINT_RESTORE'
)
  .split(' ')
  .map((name) => `CAP_${name}`);

/** The capability names of a `/proc/<pid>/status` mask (`CapBnd: 000001ffffffffff`). */
export function capabilityNames(mask: bigint): string[] {
  return CAPABILITY_BITS.filter((_, bit) => (mask >> BigInt(bit)) & 1n);
}

/** Docker's default masked paths (read as empty) and read-only paths. */
const MASKED_PATHS = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];
const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** The runtime spec for one step. */
export function createSpec(input: SpecInput): RuntimeSpec {
  const network = input.network ?? 'default';
  const insecure = input.security === 'insecure';
  const rootless = input.rootless;
  const namespaces: { type: string; path?: string }[] = [
    { type: 'pid' },
    { type: 'ipc' },
    { type: 'uts' },
    { type: 'mount' },
  ];
  const join = network === 'default' ? input.join : undefined;
  if (network !== 'host') namespaces.push({ type: 'network', ...(join ? { path: join.netns } : {}) });
  // A joined user namespace has the same mapping (root → the caller); runc 1.1 wants it stated anyway.
  const newUserns = rootless !== undefined && !rootless.inNamespace;
  if (newUserns) namespaces.push({ type: 'user', ...(join?.userns ? { path: join.userns } : {}) });
  const caps = insecure ? [...(input.ownCapabilities ?? CAPABILITY_BITS)] : [...DEFAULT_CAPABILITIES];
  const hooks = input.createRuntimeHooks?.length
    ? { hooks: { createRuntime: input.createRuntimeHooks } }
    : {};
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: {
        uid: input.user.uid,
        gid: input.user.gid,
        ...(input.user.additionalGids.length ? { additionalGids: input.user.additionalGids } : {}),
      },
      args: input.args,
      env: input.env,
      cwd: input.cwd,
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      // no rlimits: the step inherits wharf's (as containers inherit dockerd's)
      // setuid binaries (su, sudo) cannot gain what the step lacks; `insecure` lifts it as BuildKit does
      noNewPrivileges: !insecure,
    },
    root: { path: input.rootfs, readonly: false },
    hostname: input.hostname ?? 'buildkitsandbox',
    mounts: [
      ...standardMounts(network, rootless !== undefined, insecure),
      ...etcMounts(input.etc),
      ...(input.mounts ?? []),
    ],
    ...hooks,
    linux: {
      namespaces,
      ...(rootless === undefined ? { resources: { devices: [{ allow: false, access: 'rwm' }] } } : {}),
      ...(newUserns
        ? {
            uidMappings: [{ containerID: 0, hostID: rootless.uid, size: 1 }],
            gidMappings: [{ containerID: 0, hostID: rootless.gid, size: 1 }],
          }
        : {}),
      maskedPaths: insecure ? [] : MASKED_PATHS,
      readonlyPaths: insecure ? [] : READONLY_PATHS,
      ...(insecure
        ? {}
        : {
            seccomp: defaultSeccompProfile({
              capabilities: caps,
              ...(input.arch ? { arch: input.arch } : {}),
            }),
          }),
    },
  };
}

function standardMounts(network: NetworkMode, rootless: boolean, insecure: boolean): SpecMount[] {
  const mounts: SpecMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: [
        'nosuid',
        'noexec',
        'newinstance',
        'ptmxmode=0666',
        'mode=0620',
        ...(rootless ? [] : ['gid=5']),
      ],
    },
    {
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'shm',
      options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
    },
  ];
  if (!rootless) {
    mounts.push({
      destination: '/dev/mqueue',
      type: 'mqueue',
      source: 'mqueue',
      options: ['nosuid', 'noexec', 'nodev'],
    });
  }
  // sysfs can only be mounted by the owner of the network namespace: a rootless container sharing
  // the host's network gets a read-only bind of the host's /sys instead.
  if (rootless && network === 'host') {
    mounts.push({
      destination: '/sys',
      type: 'none',
      source: '/sys',
      options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'],
    });
  } else {
    mounts.push({
      destination: '/sys',
      type: 'sysfs',
      source: 'sysfs',
      options: ['nosuid', 'noexec', 'nodev', insecure ? 'rw' : 'ro'],
    });
  }
  return mounts;
}

function etcMounts(etc: SpecInput['etc']): SpecMount[] {
  const ro = ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'];
  const mounts: SpecMount[] = [];
  if (etc?.resolvConf)
    mounts.push({ destination: '/etc/resolv.conf', type: 'bind', source: etc.resolvConf, options: ro });
  if (etc?.hosts) mounts.push({ destination: '/etc/hosts', type: 'bind', source: etc.hosts, options: ro });
  if (etc?.hostname)
    mounts.push({ destination: '/etc/hostname', type: 'bind', source: etc.hostname, options: ro });
  return mounts;
}

/** `/etc/hosts` for a step: localhost and the sandbox's own name. */
export function hostsFile(hostname: string): string {
  return [
    `127.0.0.1\tlocalhost ${hostname}`,
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'ff00::0\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
    '',
  ].join('\n');
}

/**
 * `/etc/resolv.conf` for a step: with the host's network, the host's. With a network of its own and a
 * `nameserver` (slirp4netns's DNS forwarder, which asks the host's resolvers), that one, keeping the
 * host's search and options lines. Otherwise (`none`) a loopback resolver (systemd-resolved's
 * 127.0.0.53) is unreachable, so those lines are dropped and, if nothing is left, public resolvers
 * are named (as Docker does).
 */
export function resolvConfFor(host: string, network: NetworkMode, nameserver?: string): string {
  if (network === 'host') return host;
  const nameserverLine = /^\s*nameserver\s/;
  if (nameserver !== undefined) {
    const kept = host.split('\n').filter((line) => line.trim() !== '' && !nameserverLine.test(line));
    return `${[`nameserver ${nameserver}`, ...kept].join('\n')}\n`;
  }
  const lines = host
    .split('\n')
    .filter((line) => line.trim() !== '' && !/^\s*nameserver\s+(127\.|::1\b)/.test(line));
  if (!lines.some((line) => nameserverLine.test(line)))
    lines.push('nameserver 8.8.8.8', 'nameserver 8.8.4.4');
  return `${lines.join('\n')}\n`;
}
