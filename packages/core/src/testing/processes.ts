/**
 * Process ids for core's own tests (not exported): leases, markers and temp files are named by pid,
 * and what a dead process left is swept.
 *
 * ```ts
 * writeFileSync(join(leases, `${deadPid()}-x`), ''); // left by a process that has exited
 * ```
 */
import { spawnSync } from 'node:child_process';

/** The pid of a process that has exited (a short-lived node). */
export function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  });
  return Number(child.stdout);
}
