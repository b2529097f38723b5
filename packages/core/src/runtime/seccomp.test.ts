import { describe, expect, it } from 'vitest';
import { DEFAULT_CAPABILITIES } from './bundle.js';
import { defaultSeccompProfile, type SeccompProfile } from './seccomp.js';

/** Names allowed unconditionally (rules without argument checks). */
const allowed = (profile: SeccompProfile) =>
  new Set(profile.syscalls.filter((r) => r.action === 'SCMP_ACT_ALLOW' && !r.args).flatMap((r) => r.names));

describe('defaultSeccompProfile', () => {
  const profile = defaultSeccompProfile({ capabilities: DEFAULT_CAPABILITIES, arch: 'x64' });

  it('denies with EPERM by default, for x86_64 and its compat architectures', () => {
    expect(profile.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(profile.defaultErrnoRet).toBe(1);
    expect(profile.architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    expect(defaultSeccompProfile({ capabilities: [], arch: 'arm64' }).architectures).toEqual([
      'SCMP_ARCH_AARCH64',
      'SCMP_ARCH_ARM',
    ]);
  });

  it('allows ordinary programs’ syscalls, and chroot (CAP_SYS_CHROOT is a default capability)', () => {
    const names = allowed(profile);
    for (const name of ['openat', 'execve', 'mmap', 'socketpair', 'futex', 'arch_prctl', 'chroot'])
      expect(names).toContain(name);
    expect(names).not.toContain('cacheflush'); // an arm syscall
  });

  it('without CAP_SYS_ADMIN: no namespaces, mounts, bpf, keyrings or modules; clone only without namespace flags', () => {
    const names = allowed(profile);
    for (const name of [
      'unshare',
      'setns',
      'mount',
      'umount2',
      'bpf',
      'add_key',
      'keyctl',
      'init_module',
      'kexec_load',
      'clone',
      'clone3',
    ])
      expect(names).not.toContain(name);
    expect(profile.syscalls).toContainEqual({
      names: ['clone'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: 0, value: 0x7e020000, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
    });
    expect(profile.syscalls).toContainEqual({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 });
    expect(profile.syscalls).toContainEqual({
      names: ['socket'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: 0, value: 40, op: 'SCMP_CMP_NE' }],
    });
  });

  it('a capability unlocks its syscalls: CAP_SYS_ADMIN gives unshare, mount and an unfiltered clone', () => {
    const admin = defaultSeccompProfile({
      capabilities: [...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN'],
      arch: 'x64',
    });
    const names = allowed(admin);
    for (const name of ['unshare', 'setns', 'mount', 'clone', 'clone3']) expect(names).toContain(name);
    expect(admin.syscalls.some((r) => r.action === 'SCMP_ACT_ERRNO')).toBe(false);
  });

  it('s390x checks clone’s flags in its second argument', () => {
    const s390 = defaultSeccompProfile({ capabilities: [], arch: 's390x' });
    expect(s390.syscalls.find((r) => r.names.includes('clone') && r.args)?.args?.[0]?.index).toBe(1);
  });
});
