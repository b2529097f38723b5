/**
 * A private, memory-backed directory for what must never reach a disk: the OCI bundle (its
 * config.json holds `env=` secrets) and secret files. One per process, made on first use:
 * `<tmpfs>/wharf-<pid>-XXXXXX`, mode 0700, under the first of `/dev/shm`, `$XDG_RUNTIME_DIR` and
 * `/run` that is a tmpfs (checked with statfs: a directory on disk does not count). It is removed
 * when the process exits; what a killed process left is removed by {@link sweepPrivateDirs}
 * (the owner's pid is in the name).
 *
 * ```ts
 * const step = await stepPrivateDir('3f2a…'); // <tmpfs>/wharf-1234-Ab12Cd/3f2a…, or undefined
 * await writeFile(join(step.path, 'config.json'), spec);
 * await step.remove();
 * ```
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, readdir, rm, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { leftByDeadProcess } from '../store/lease.js';

const TMPFS_MAGIC = 0x01021994;
const RAMFS_MAGIC = 0x858458f6;
const PREFIX = 'wharf-';

/** Where private directories may go, in order of preference. */
function candidates(): string[] {
  const dirs = ['/dev/shm'];
  if (process.env.XDG_RUNTIME_DIR) dirs.push(process.env.XDG_RUNTIME_DIR);
  dirs.push('/run');
  return dirs;
}

async function inMemory(dir: string): Promise<boolean> {
  try {
    const { type } = await statfs(dir);
    return type === TMPFS_MAGIC || type === RAMFS_MAGIC;
  } catch {
    return false;
  }
}

let made: Promise<string | undefined> | undefined;

/** This process's private directory; undefined when no tmpfs is writable here. */
export function processPrivateDir(): Promise<string | undefined> {
  made ??= (async () => {
    for (const dir of candidates()) {
      if (!(await inMemory(dir))) continue;
      try {
        // mkdtemp makes it 0700; synchronous, so the exit hook is in place before anything is written
        const path = mkdtempSync(join(dir, `${PREFIX}${process.pid}-`));
        process.once('exit', () => rmSync(path, { recursive: true, force: true }));
        return path;
      } catch {
        // not writable for us: the next candidate
      }
    }
    return undefined;
  })();
  return made;
}

export interface StepPrivateDir {
  readonly path: string;
  remove(): Promise<void>;
}

/** A directory of its own for one step inside the process's private directory; undefined without tmpfs. */
export async function stepPrivateDir(id: string): Promise<StepPrivateDir | undefined> {
  const base = await processPrivateDir();
  if (!base) return undefined;
  const path = join(base, id);
  await mkdir(path, { mode: 0o700 });
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** Removes the private directories of processes that are gone (a killed build's bundles and secrets). */
export async function sweepPrivateDirs(): Promise<void> {
  for (const dir of candidates()) {
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (name.startsWith(PREFIX) && leftByDeadProcess(name.slice(PREFIX.length))) {
        await rm(join(dir, name), { recursive: true, force: true }).catch(() => {});
      }
    }
  }
}
