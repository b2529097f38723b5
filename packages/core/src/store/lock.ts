/**
 * A cross-process lock on a path (leases of the blob store and the snapshots, `--mount=type=cache,
 * sharing=locked|private`): `mkdir` is atomic,
 * so the process that creates `<path>` holds the lock; it records its pid so a lock left by a process
 * that died is taken over. Node has no flock(2); this needs nothing but the filesystem.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface Lock {
  release(): Promise<void>;
}

export interface LockOptions {
  /** Wait for the lock (default). With `false`, resolve `undefined` at once when it is held. */
  readonly wait?: boolean;
  readonly signal?: AbortSignal;
}

/** True while process `pid` exists (EPERM: it exists, as another user's). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the lock at `path` (a directory that must not be used for anything else). */
export async function acquireLock(path: string, options: LockOptions = {}): Promise<Lock | undefined> {
  const token = `${process.pid}`;
  for (let delay = 20; ; delay = Math.min(delay * 2, 250)) {
    options.signal?.throwIfAborted();
    try {
      await mkdir(path);
      await writeFile(join(path, 'owner'), token);
      let released = false;
      return {
        release: async () => {
          if (released) return;
          released = true;
          await rm(path, { recursive: true, force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = Number((await readFile(join(path, 'owner'), 'utf8').catch(() => '')).trim());
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && !alive(owner)) {
      await rm(path, { recursive: true, force: true }); // its holder is gone
      continue;
    }
    if (options.wait === false) return undefined;
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}
