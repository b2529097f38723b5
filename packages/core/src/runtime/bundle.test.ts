import { describe, expect, it } from 'vitest';
import { createSpec, DEFAULT_CAPABILITIES, hostsFile, resolvConfFor, type SpecInput } from './bundle.js';

const input: SpecInput = {
  rootfs: '/snapshots/runs/abc/rootfs',
  args: ['/bin/sh', '-c', 'echo hi'],
  env: ['PATH=/usr/bin:/bin', 'FOO=bar'],
  cwd: '/app',
  user: { uid: 1000, gid: 1000, additionalGids: [10] },
  etc: { resolvConf: '/s/resolv.conf', hosts: '/s/hosts', hostname: '/s/hostname' },
};

describe('createSpec: the bundle config.json', () => {
  it('describes the process: argv, env, cwd, user, Docker’s default capabilities, privileges kept', () => {
    const spec = createSpec(input);
    expect(spec.ociVersion).toBe('1.0.2');
    expect(spec.process).toMatchObject({
      terminal: false,
      args: ['/bin/sh', '-c', 'echo hi'],
      env: ['PATH=/usr/bin:/bin', 'FOO=bar'],
      cwd: '/app',
      user: { uid: 1000, gid: 1000, additionalGids: [10] },
      noNewPrivileges: false,
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

  it('namespaces: pid, ipc, uts, mount; the host network unless --network=none', () => {
    const types = (network: SpecInput['network']) =>
      createSpec({ ...input, network }).linux.namespaces.map((n) => n.type);
    expect(types(undefined)).toEqual(['pid', 'ipc', 'uts', 'mount']);
    expect(types('host')).toEqual(['pid', 'ipc', 'uts', 'mount']);
    expect(types('none')).toEqual(['pid', 'ipc', 'uts', 'mount', 'network']);
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

  it('rootless: a user namespace mapping root to the caller, /sys bound, no device cgroup', () => {
    const spec = createSpec({
      ...input,
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

  it('resolv.conf: the host’s; without the host network, loopback resolvers are replaced', () => {
    const host = 'nameserver 127.0.0.53\noptions edns0\n';
    expect(resolvConfFor(host, 'default')).toBe(host);
    expect(resolvConfFor(host, 'none')).toBe('options edns0\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n');
    expect(resolvConfFor('nameserver 10.0.0.2\n', 'none')).toBe('nameserver 10.0.0.2\n');
  });
});
