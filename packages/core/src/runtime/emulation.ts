/**
 * RUN for a foreign architecture (an arm64 image on an amd64 machine) runs through QEMU user-mode
 * emulation registered in the kernel's binfmt_misc. The entry needs the `F` (fix binary) flag: the
 * kernel then opens the interpreter when it is registered, so it works inside the container's root
 * filesystem, which has no /usr/bin/qemu-*. Checked before a build starts, so a missing emulator
 * fails before any work with the commands that enable it, not as "exec format error" halfway through.
 *
 * The binfmt_misc folder is `/proc/sys/fs/binfmt_misc`, or `WHARF_BINFMT_DIR` / `binfmtDir` (tests).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatPlatform, hostPlatform } from '../oci/platform.js';
import type { Platform } from '../oci/types.js';
import { RuntimeError } from './errors.js';

export const DEFAULT_BINFMT_DIR = '/proc/sys/fs/binfmt_misc';

/** QEMU's name for each architecture (its binfmt entry is `qemu-<name>`). */
const QEMU_ARCH: Readonly<Record<string, string>> = {
  amd64: 'x86_64',
  '386': 'i386',
  arm64: 'aarch64',
  arm: 'arm',
  ppc64le: 'ppc64le',
  ppc64: 'ppc64',
  s390x: 's390x',
  riscv64: 'riscv64',
  mips64le: 'mips64el',
  mips64: 'mips64',
  mipsle: 'mipsel',
  mips: 'mips',
  loong64: 'loongarch64',
};

/** Architectures the host runs without emulation (an amd64 kernel runs 386 binaries). */
const NATIVE_TOO: Readonly<Record<string, readonly string[]>> = { amd64: ['386'] };

export interface EmulationOptions {
  /** The binfmt_misc folder; default `WHARF_BINFMT_DIR`, else /proc/sys/fs/binfmt_misc. */
  readonly binfmtDir?: string;
  /** Default: this machine. */
  readonly host?: Platform;
  readonly env?: NodeJS.ProcessEnv;
}

/** True when RUN for `platform` needs emulation on `host` (another architecture, not run natively). */
export function needsEmulation(platform: Platform, host: Platform = hostPlatform()): boolean {
  if (platform.architecture === host.architecture) return false;
  return !(NATIVE_TOO[host.architecture] ?? []).includes(platform.architecture);
}

/** Why the `qemu-<arch>` entry cannot run `arch` binaries in a container, or undefined when it can. */
async function entryProblem(dir: string, qemuArch: string): Promise<string | undefined> {
  const status = await readFile(join(dir, 'status'), 'utf8').catch(() => undefined);
  if (status === undefined) return `binfmt_misc is not mounted at ${dir}`;
  if (status.trim() !== 'enabled') return `binfmt_misc at ${dir} is disabled`;
  const entry = await readFile(join(dir, `qemu-${qemuArch}`), 'utf8').catch(() => undefined);
  if (entry === undefined) return `no qemu-${qemuArch} entry is registered in ${dir}`;
  const lines = entry.split('\n').map((l) => l.trim());
  if (lines[0] !== 'enabled') return `the qemu-${qemuArch} entry in ${dir} is disabled`;
  const flags = lines.find((l) => l.startsWith('flags:'))?.slice('flags:'.length) ?? '';
  if (!flags.includes('F')) {
    return `the qemu-${qemuArch} entry in ${dir} lacks the F flag (its interpreter is not found inside a container)`;
  }
  return undefined;
}

/**
 * Resolves when RUN for `platform` can run here: natively, or through a registered QEMU emulator with
 * the F flag. Otherwise `RUNTIME_NO_EMULATION` with the commands that enable it.
 */
export async function checkEmulation(platform: Platform, options: EmulationOptions = {}): Promise<void> {
  const host = options.host ?? hostPlatform();
  if (!needsEmulation(platform, host)) return;
  const env = options.env ?? process.env;
  const dir = options.binfmtDir ?? (env.WHARF_BINFMT_DIR || DEFAULT_BINFMT_DIR);
  const target = formatPlatform(platform);
  const qemuArch = QEMU_ARCH[platform.architecture];
  if (qemuArch === undefined) {
    throw new RuntimeError(
      'RUNTIME_NO_EMULATION',
      `RUN for ${target} needs emulation, and wharf knows no QEMU emulator for ${platform.architecture}`,
      { hint: `build on a ${platform.architecture} machine, or use --backend docker` },
    );
  }
  const problem = await entryProblem(dir, qemuArch);
  if (problem === undefined) return;
  throw new RuntimeError(
    'RUNTIME_NO_EMULATION',
    `RUN for ${target} on this ${formatPlatform(host)} machine needs QEMU emulation: ${problem}`,
    {
      hint: `as root: apt-get install qemu-user-static binfmt-support; mount -t binfmt_misc binfmt_misc ${DEFAULT_BINFMT_DIR}; update-binfmts --enable qemu-${qemuArch}`,
    },
  );
}
