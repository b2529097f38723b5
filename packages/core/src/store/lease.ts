/**
 * Leases: how a running build tells `wharf cache prune` to keep away. A lease is a file
 * `<dir>/<pid>-<random>` (gone on release, stale once its process is dead); taking one and pruning
 * both hold a lock, so a prune that found no live lease cannot be overtaken by a build starting in
 * between. The blob store (store.ts: one lease per process, for its lifetime) and the snapshots
 * (runtime/snapshot-gc.ts: one per open Snapshotter) use the same implementation.
 *
 * ```ts
 * const lease = await takeLease(join(root, 'leases'), join(root, '.lock'));
 * await liveLeases(join(root, 'leases'), { except: process.pid }); // [1234] while pid 1234 builds
 * await lease.release();
 * ```
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { acquireLock, alive } from './lock.js';

export interface Lease {
  release(): Promise<void>;
}

export interface TakeLeaseOptions {
  /** Runs under the lock before the lease exists (e.g. mkdirs a prune must not race). */
  readonly prepare?: () => Promise<void>;
  /** Keep the lease until this process exits (the file is removed in an `exit` handler). */
  readonly untilExit?: boolean;
}

/** Lease files to remove when the process exits (synchronously: `exit` handlers cannot wait). */
const heldUntilExit = new Set<string>();
let exitHook = false;

/** Registers this process as a user of what `dir` guards; under the lock at `lockPath`. */
export async function takeLease(
  dir: string,
  lockPath: string,
  options: TakeLeaseOptions = {},
): Promise<Lease> {
  await mkdir(dirname(lockPath), { recursive: true });
  const lock = await acquireLock(lockPath);
  try {
    await options.prepare?.();
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const file = join(dir, `${process.pid}-${randomBytes(4).toString('hex')}`);
    await writeFile(file, `${process.pid}\n`);
    if (options.untilExit) {
      heldUntilExit.add(file);
      if (!exitHook) {
        exitHook = true;
        process.once('exit', () => {
          for (const held of heldUntilExit) rmSync(held, { force: true });
        });
      }
    }
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        heldUntilExit.delete(file);
        await rm(file, { force: true });
      },
    };
  } finally {
    await lock?.release();
  }
}

/** Pids holding a lease in `dir` (but `except`); leases of dead processes are removed. */
export async function liveLeases(dir: string, options: { readonly except?: number } = {}): Promise<number[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const pids: number[] = [];
  for (const name of names) {
    const pid = ownerPid(name);
    if (pid <= 0 || !alive(pid)) await rm(join(dir, name), { force: true });
    else if (pid !== options.except) pids.push(pid);
  }
  return [...new Set(pids)];
}

/** The pid a `<pid>-…` name (lease, temp file, container, private directory) was made by; 0 if none. */
export function ownerPid(name: string): number {
  const match = /^(\d+)-/.exec(name);
  return match ? Number(match[1]) : 0;
}

/** True when `name` was made by a process (`<pid>-…`) that is gone: a killed build's leftover. */
export function leftByDeadProcess(name: string): boolean {
  const pid = ownerPid(name);
  return pid > 0 && pid !== process.pid && !alive(pid);
}
