/**
 * The default seccomp filter of a RUN step: the behaviour of Docker's default profile (moby's
 * `profiles/seccomp/default.json`, which BuildKit applies too), written here as data grouped by purpose.
 *
 * Everything not allowed fails with EPERM. Allowed: the ordinary syscalls of programs (files, memory,
 * processes, signals, time, sockets, IPC, scheduling); `clone` only without namespace flags, `clone3`
 * answered with ENOSYS so libc falls back to `clone`; `socket` for every family but AF_VSOCK;
 * `personality` only for the harmless personas. Namespaces, mounts, modules, kexec, bpf, perf, keyrings,
 * time setting, ptrace of others and the like need a capability the step does not have (the groups in
 * {@link CAPABILITY_SYSCALLS}); a step with that capability (`--security=insecure` runs unfiltered) gets
 * them.
 *
 * The filter lists the runtime's own architecture plus the ones its kernel runs as compat (x86_64 also
 * runs i386 and x32 code), as Docker does. Foreign-architecture steps run under qemu-user, whose
 * syscalls are native ones, so the native list covers them.
 */

/** `linux.seccomp` of the OCI runtime spec (the part wharf writes). */
export interface SeccompProfile {
  readonly defaultAction: 'SCMP_ACT_ERRNO';
  readonly defaultErrnoRet: number;
  readonly architectures: readonly string[];
  readonly syscalls: readonly SeccompRule[];
}

export interface SeccompRule {
  readonly names: readonly string[];
  readonly action: 'SCMP_ACT_ALLOW' | 'SCMP_ACT_ERRNO';
  readonly errnoRet?: number;
  readonly args?: readonly SeccompArg[];
}

export interface SeccompArg {
  readonly index: number;
  readonly value: number;
  readonly valueTwo?: number;
  readonly op: 'SCMP_CMP_EQ' | 'SCMP_CMP_NE' | 'SCMP_CMP_MASKED_EQ';
}

/** Names separated by white space, as a list. */
function words(text: string): readonly string[] {
  return text.trim().split(/\s+/);
}

const EPERM = 1;
const ENOSYS = 38;

/** Syscalls every step may make, by purpose (names a kernel or libseccomp lacks are skipped by runc). */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  files: words(`
    access chdir chmod chown chown32 close close_range copy_file_range creat dup dup2 dup3
    faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir fchmod fchmodat
    fchown fchown32 fchownat fcntl fcntl64 fdatasync flock fstat fstat64 fstatat64 fstatfs
    fstatfs64 fsync ftruncate ftruncate64 futimesat getcwd getdents getdents64 inotify_add_watch
    inotify_init inotify_init1 inotify_rm_watch lchown lchown32 link linkat _llseek lseek lstat
    lstat64 mkdir mkdirat mknod mknodat name_to_handle_at newfstatat open openat openat2 pread64
    preadv preadv2 pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv rename
    renameat renameat2 rmdir sendfile sendfile64 splice stat stat64 statfs statfs64 statx
    symlink symlinkat sync sync_file_range syncfs tee truncate truncate64 umask unlink unlinkat
    utime utimensat utimensat_time64 utimes vmsplice write writev
  `),
  xattrs: words(`
    fgetxattr flistxattr fremovexattr fsetxattr getxattr lgetxattr listxattr llistxattr
    lremovexattr lsetxattr removexattr setxattr
  `),
  asyncIo: words(`
    epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait
    epoll_wait_old eventfd eventfd2 io_cancel io_destroy io_getevents io_pgetevents
    io_pgetevents_time64 io_setup io_submit io_uring_enter io_uring_register io_uring_setup
    ioctl _newselect pipe pipe2 poll ppoll ppoll_time64 pselect6 pselect6_time64 select signalfd
    signalfd4 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime timerfd_settime64
  `),
  memory: words(`
    brk madvise membarrier memfd_create memfd_secret mincore mlock mlock2 mlockall mmap mmap2
    mprotect mremap msync munlock munlockall munmap pkey_alloc pkey_free pkey_mprotect
    remap_file_pages
  `),
  processes: words(`
    capget capset execve execveat exit exit_group fork get_robust_list get_thread_area getcpu
    getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32 getpgid getpgrp
    getpid getppid getpriority getresgid getresgid32 getresuid getresuid32 getrlimit getrusage
    getsid gettid getuid getuid32 ioprio_get ioprio_set landlock_add_rule
    landlock_create_ruleset landlock_restrict_self pidfd_open prctl prlimit64 process_mrelease
    restart_syscall rseq seccomp set_robust_list set_thread_area set_tid_address setfsgid
    setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setpgid setpriority
    setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32
    setrlimit setsid setuid setuid32 sysinfo ugetrlimit uname vfork wait4 waitid waitpid
  `),
  signals: words(`
    alarm kill pause pidfd_send_signal rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo
    rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo
    sigaltstack sigprocmask sigreturn tgkill tkill
  `),
  time: words(`
    adjtimex clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime
    clock_gettime64 clock_nanosleep clock_nanosleep_time64 getitimer gettimeofday nanosleep
    setitimer time timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64
    timer_settime timer_settime64 times
  `),
  sockets: words(`
    accept accept4 bind connect getpeername getsockname getsockopt listen recv recvfrom recvmmsg
    recvmmsg_time64 recvmsg send sendmmsg sendmsg sendto setsockopt shutdown socketcall
    socketpair
  `),
  ipc: words(`
    futex futex_time64 futex_waitv ipc mq_getsetattr mq_notify mq_open mq_timedreceive
    mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink msgctl msgget msgrcv
    msgsnd semctl semget semop semtimedop semtimedop_time64 shmat shmctl shmdt shmget
  `),
  scheduling: words(`
    getrandom sched_get_priority_max sched_get_priority_min sched_getaffinity sched_getattr
    sched_getparam sched_getscheduler sched_rr_get_interval sched_rr_get_interval_time64
    sched_setaffinity sched_setattr sched_setparam sched_setscheduler sched_yield
  `),
  // Tracing one's own children: harmless since Linux 4.8 (seccomp is checked again after a ptrace stop).
  tracing: words('process_vm_readv process_vm_writev ptrace'),
};

/** Syscalls that are only allowed to a step holding the capability (Docker's conditional rules). */
const CAPABILITY_SYSCALLS: Readonly<Record<string, readonly string[]>> = {
  CAP_SYS_ADMIN: words(`
    bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount
    mount_setattr move_mount open_tree perf_event_open quotactl quotactl_fd setdomainname
    sethostname setns syslog umount umount2 unshare
  `),
  CAP_DAC_READ_SEARCH: words('open_by_handle_at'),
  CAP_SYS_BOOT: words('reboot'),
  CAP_SYS_CHROOT: words('chroot'),
  CAP_SYS_MODULE: words('delete_module init_module finit_module'),
  CAP_SYS_PACCT: words('acct'),
  CAP_SYS_PTRACE: words('kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace'),
  CAP_SYS_RAWIO: words('iopl ioperm'),
  CAP_SYS_TIME: words('settimeofday stime clock_settime clock_settime64'),
  CAP_SYS_TTY_CONFIG: words('vhangup'),
  CAP_SYS_NICE: words('get_mempolicy mbind set_mempolicy set_mempolicy_home_node'),
  CAP_SYSLOG: words('syslog'),
  CAP_BPF: words('bpf'),
  CAP_PERFMON: words('perf_event_open'),
};

/** Syscalls that exist only on some architectures (keyed by Node's `process.arch`). */
const ARM_SYSCALLS = words(
  'arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls',
);
const ARCH_SYSCALLS: Readonly<Record<string, readonly string[]>> = {
  x64: words('arch_prctl modify_ldt'),
  ia32: words('modify_ldt'),
  arm64: ARM_SYSCALLS,
  arm: ARM_SYSCALLS,
  ppc64: words('sync_file_range2 swapcontext'),
  s390x: words('s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr'),
  riscv64: words('riscv_flush_icache'),
};

/** The seccomp architectures a kernel of Node's `process.arch` runs: native first, then compat. */
const ARCHITECTURES: Readonly<Record<string, readonly string[]>> = {
  x64: words('SCMP_ARCH_X86_64 SCMP_ARCH_X86 SCMP_ARCH_X32'),
  ia32: words('SCMP_ARCH_X86'),
  arm64: words('SCMP_ARCH_AARCH64 SCMP_ARCH_ARM'),
  arm: words('SCMP_ARCH_ARM'),
  ppc64: words('SCMP_ARCH_PPC64LE'),
  s390x: words('SCMP_ARCH_S390X SCMP_ARCH_S390'),
  riscv64: words('SCMP_ARCH_RISCV64'),
  mips64el: words('SCMP_ARCH_MIPSEL64 SCMP_ARCH_MIPSEL SCMP_ARCH_MIPSEL64N32'),
};

/** CLONE_NEWNS | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET | NEWCGROUP: a new namespace of any kind. */
const CLONE_NAMESPACE_FLAGS = 0x7e020000;
const AF_VSOCK = 40;
/** PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32, and 0xffffffff (a query). */
const HARMLESS_PERSONAS = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

export interface SeccompOptions {
  /** The capabilities the step holds (bounding set): they unlock their syscall groups. */
  readonly capabilities: readonly string[];
  /** Node's `process.arch` of the machine running the runtime; default this one. */
  readonly arch?: string;
}

/** The default seccomp filter for a step holding `capabilities` on `arch`. */
export function defaultSeccompProfile(options: SeccompOptions): SeccompProfile {
  const arch = options.arch ?? process.arch;
  const caps = new Set(options.capabilities);
  const allow = (names: readonly string[], args?: readonly SeccompArg[]): SeccompRule => ({
    names,
    action: 'SCMP_ACT_ALLOW',
    ...(args ? { args } : {}),
  });
  const granted = Object.entries(CAPABILITY_SYSCALLS)
    .filter(([cap]) => caps.has(cap))
    .flatMap(([, names]) => names);
  const rules: SeccompRule[] = [
    allow([...Object.values(ALLOWED).flat(), ...(ARCH_SYSCALLS[arch] ?? [])]),
    allow(['socket'], [{ index: 0, value: AF_VSOCK, op: 'SCMP_CMP_NE' }]),
    ...HARMLESS_PERSONAS.map((persona) =>
      allow(['personality'], [{ index: 0, value: persona, op: 'SCMP_CMP_EQ' }]),
    ),
  ];
  if (granted.length > 0) rules.push(allow([...new Set(granted)]));
  if (!caps.has('CAP_SYS_ADMIN')) {
    // s390 passes clone's flags second.
    const flagsIndex = arch === 's390x' ? 1 : 0;
    rules.push(
      allow(
        ['clone'],
        [{ index: flagsIndex, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
      ),
      // clone3's flags are behind a pointer, out of seccomp's reach: ENOSYS makes libc use clone.
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS },
    );
  }
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: EPERM,
    architectures: ARCHITECTURES[arch] ?? [],
    syscalls: rules,
  };
}
