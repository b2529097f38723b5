// QEMU user-mode emulation for RUN steps of foreign-architecture images (arm64 on an amd64 machine):
// Debian's qemu-user-static + binfmt-support (scripts/test-env.sh) ship the binfmt entries with the F
// flag; this mounts binfmt_misc when it is not and enables the entries. Needs root; elsewhere it reports.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './exec.js';
import { isCI, which } from './tools.js';

const BINFMT_DIR = '/proc/sys/fs/binfmt_misc';
/** The emulators the tests use (arm64 builds, s390x errors). */
const EMULATORS = ['qemu-aarch64', 'qemu-s390x'];

/** Undefined when every emulator is registered, else why not (throws under CI). */
export async function ensureBinfmt(): Promise<string | undefined> {
  try {
    if (!existsSync(join(BINFMT_DIR, 'status'))) {
      await run('mount', ['-t', 'binfmt_misc', 'binfmt_misc', BINFMT_DIR]);
    }
    const missing = EMULATORS.filter((name) => !existsSync(join(BINFMT_DIR, name)));
    if (missing.length === 0) return undefined;
    if (!which('update-binfmts')) throw new Error('update-binfmts is missing (run scripts/test-env.sh)');
    for (const name of missing) await run('update-binfmts', ['--enable', name]);
    return undefined;
  } catch (error) {
    const reason = `QEMU emulation is not registered in ${BINFMT_DIR}: ${(error as Error).message}`;
    if (isCI) throw new Error(`[wharf-test] ${reason}; CI never skips these tests`);
    return reason;
  }
}
