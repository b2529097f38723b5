import { describe, expect, it } from 'vitest';
import {
  capabilityNames,
  createSpec,
  DEFAULT_CAPABILITIES,
  hostsFile,
  resolvConfFor,
  type SpecInput,
} from './bundle.js';
import { defaultSeccompProfile } from './seccomp.js';

const input: SpecInput = {
  rootfs: '/snapshots/runs/abc/rootfs',
  args: ['/bin/sh', '-c', 'echo hi'],
  env: ['PATH=/usr/bin:/bin', 'FOO=bar'],
  cwd: '/app',
  user: { uid: 1000, gid: 1000, additionalGids: [10] },
  etc: { resolvConf: '/s/resolv.conf', hosts: '/s/hosts', hostname: '/s/hostname' },
};

describe('createSpec: the bundle config.json', () => {
  it('describes the process: argv, env, cwd, user, Docker’s default capabilities, no new privileges', () => {
    const spec = createSpec(input);
    expect(spec.ociVersion).toBe('1.0.2');
    expect(spec.process).toMatchObject({
      terminal: false,
      args: ['/bin/sh', '-c', 'echo hi'],
      env: ['PATH=/usr/bin:/bin', 'FOO=bar'],
      cwd: '/app',
      user: { uid: 1000, gid: 1000, additionalGids: [10] },
      noNewPrivileges: true,
    });
    expect(spec.process.capabilities.bounding).toEqual(DEFAULT_CAPABILITIES);
    expect(spec.process.capabilities.effective).toContain('CAP_CHOWN');
    expect(spec.process.capabilities.bounding).not.toContain('CAP_SYS_ADMIN');
    expect(spec.root).toEqual({ path: '/snapshots/runs/abc/rootfs', readonly: false });
    expect(spec.hostname).toBe('buildkitsandbox');
  });

  it('mounts /proc, /dev, /dev/pts, /dev/shm, /dev/mqueue, /sys (ro) and the etc files read-only', () => {
    const spec = createSpec(input);
    expect(spec.mounts.map((m) => `${m.destination} ${m.type}`)).toEqual([
      '/proc proc',
      '/dev tmpfs',
      '/dev/pts devpts',
      '/dev/shm tmpfs',
      '/dev/mqueue mqueue',
      '/sys sysfs',
      '/etc/resolv.conf bind',
      '/etc/hosts bind',
      '/etc/hostname bind',
    ]);
    expect(spec.mounts.find((m) => m.destination === '/sys')?.options).toContain('ro');
    expect(spec.mounts.find((m) => m.destination === '/etc/hosts')).toMatchObject({ source: '/s/hosts' });
    expect(spec.mounts.find((m) => m.destination === '/etc/resolv.conf')?.options).toContain('ro');
  });

  it('namespaces: pid, ipc, uts, mount, and a network namespace unless --network=host', () => {
    const types = (network: SpecInput['network']) =>
      createSpec({ ...input, network }).linux.namespaces.map((n) => n.type);
    expect(types(undefined)).toEqual(['pid', 'ipc', 'uts', 'mount', 'network']);
    expect(types('none')).toEqual(['pid', 'ipc', 'uts', 'mount', 'network']);
    expect(types('host')).toEqual(['pid', 'ipc', 'uts', 'mount']);
  });

  it('the default network joins the namespace network.ts made; --network=none never does', () => {
    const join = { netns: '/proc/42/ns/net' };
    const network = (spec: ReturnType<typeof createSpec>) =>
      spec.linux.namespaces.find((n) => n.type === 'network');
    expect(network(createSpec({ ...input, join }))).toEqual({ type: 'network', path: '/proc/42/ns/net' });
    expect(network(createSpec({ ...input, network: 'none', join }))).toEqual({ type: 'network' });
  });

  it('rootless without a namespace of its own: joins the user namespace owning the network one', () => {
    const spec = createSpec({
      ...input,
      user: { uid: 0, gid: 0, additionalGids: [] },
      rootless: { uid: 1000, gid: 1000 },
      join: { netns: '/proc/42/ns/net', userns: '/proc/42/ns/user' },
    });
    expect(spec.linux.namespaces).toContainEqual({ type: 'user', path: '/proc/42/ns/user' });
    // the holder's mapping, stated as runc 1.1 requires
    expect(spec.linux.uidMappings).toEqual([{ containerID: 0, hostID: 1000, size: 1 }]);
    expect(spec.mounts.find((m) => m.destination === '/sys')?.type).toBe('sysfs');
  });

  it('seccomp: Docker’s default filter for the default capabilities on this architecture', () => {
    const spec = createSpec({ ...input, arch: 'x64' });
    expect(spec.linux.seccomp).toEqual(
      defaultSeccompProfile({ capabilities: DEFAULT_CAPABILITIES, arch: 'x64' }),
    );
  });

  it('security=insecure: every capability the runtime holds, no seccomp, nothing masked, /sys writable', () => {
    const own = [...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN', 'CAP_NET_ADMIN'];
    const spec = createSpec({ ...input, security: 'insecure', ownCapabilities: own });
    expect(spec.process.capabilities.bounding).toEqual(own);
    expect(spec.process.capabilities.effective).toEqual(own);
    expect(spec.process.noNewPrivileges).toBe(false);
    expect(spec.linux.seccomp).toBeUndefined();
    expect(spec.linux.maskedPaths).toEqual([]);
    expect(spec.linux.readonlyPaths).toEqual([]);
    expect(spec.mounts.find((m) => m.destination === '/sys')?.options).toContain('rw');
    // without the runtime's own set: every capability Linux defines
    expect(createSpec({ ...input, security: 'insecure' }).process.capabilities.bounding).toHaveLength(41);
  });

  it('capabilityNames reads a /proc status mask', () => {
    expect(capabilityNames(0xa80425fbn).sort()).toEqual([...DEFAULT_CAPABILITIES].sort());
    expect(capabilityNames(0x1fffeffffffn)).not.toContain('CAP_SYS_RESOURCE');
    expect(capabilityNames(0x1fffeffffffn)).toHaveLength(40);
  });

  it('masks /proc paths like Docker and denies devices by default', () => {
    const spec = createSpec(input);
    expect(spec.linux.maskedPaths).toContain('/proc/kcore');
    expect(spec.linux.readonlyPaths).toContain('/proc/sys');
    expect(spec.linux.resources?.devices).toEqual([{ allow: false, access: 'rwm' }]);
  });

  it('step mounts come after the standard ones; hooks are passed through', () => {
    const spec = createSpec({
      ...input,
      mounts: [{ destination: '/root/.npm', type: 'bind', source: '/cache/x', options: ['rbind', 'rw'] }],
      createRuntimeHooks: [{ path: '/bin/sh', args: ['sh', '-c', 'true'] }],
    });
    expect(spec.mounts.at(-1)?.destination).toBe('/root/.npm');
    expect(spec.hooks?.createRuntime?.[0]?.path).toBe('/bin/sh');
  });

  it('rootless: a user namespace mapping root to the caller, /sys bound (host network), no device cgroup', () => {
    const spec = createSpec({
      ...input,
      network: 'host',
      user: { uid: 0, gid: 0, additionalGids: [] },
      rootless: { uid: 1000, gid: 1000 },
    });
    expect(spec.linux.namespaces.map((n) => n.type)).toContain('user');
    expect(spec.linux.uidMappings).toEqual([{ containerID: 0, hostID: 1000, size: 1 }]);
    expect(spec.linux.resources).toBeUndefined();
    expect(spec.mounts.find((m) => m.destination === '/sys')).toMatchObject({ type: 'none', source: '/sys' });
    expect(spec.mounts.find((m) => m.destination === '/dev/pts')?.options).not.toContain('gid=5');
    expect(spec.process.user).toEqual({ uid: 0, gid: 0 });
  });

  it('rootless inside the snapshotter’s user namespace: no user namespace of its own, still no device cgroup', () => {
    const spec = createSpec({
      ...input,
      network: 'host',
      user: { uid: 0, gid: 0, additionalGids: [] },
      rootless: { uid: 1000, gid: 1000, inNamespace: true },
    });
    expect(spec.linux.namespaces.map((n) => n.type)).toEqual(['pid', 'ipc', 'uts', 'mount']);
    expect(spec.linux.uidMappings).toBeUndefined();
    expect(spec.linux.gidMappings).toBeUndefined();
    expect(spec.linux.resources).toBeUndefined();
    expect(spec.mounts.find((m) => m.destination === '/sys')).toMatchObject({ type: 'none', source: '/sys' });
    expect(spec.mounts.find((m) => m.destination === '/dev/pts')?.options).not.toContain('gid=5');
  });
});

describe('generated /etc files', () => {
  it('hosts names localhost and the sandbox', () => {
    expect(hostsFile('box').split('\n')[0]).toBe('127.0.0.1\tlocalhost box');
  });

  it('resolv.conf: the host’s with its network; slirp’s forwarder; without either, loopback resolvers are replaced', () => {
    const host = 'nameserver 127.0.0.53\noptions edns0\n';
    expect(resolvConfFor(host, 'host')).toBe(host);
    expect(resolvConfFor(`search lan\n${host}`, 'default', '10.0.2.3')).toBe(
      'nameserver 10.0.2.3\nsearch lan\noptions edns0\n',
    );
    expect(resolvConfFor(host, 'none')).toBe('options edns0\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n');
    expect(resolvConfFor('nameserver 10.0.0.2\n', 'none')).toBe('nameserver 10.0.0.2\n');
  });
});
