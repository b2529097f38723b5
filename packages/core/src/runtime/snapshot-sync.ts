/**
 * What a crash can do to a snapshot root, and how wharf notices.
 *
 * Snapshots are a cache of the store: each can be extracted again from its layer's blob. Like Docker's
 * overlay2 layers they are written without fsync, and step overlays are mounted `volatile` (unmounting
 * one does not write back the whole filesystem, which was most of a RUN step's diff time). So a crash
 * can leave a snapshot half on disk, and the next build would stack on it.
 *
 * Each opened snapshotter leaves a marker `unsynced/<pid>-<random>` holding the kernel's boot id. When
 * it closes, a detached `sync -f <root>` deletes the markers it covers once everything is on disk (the
 * build does not wait). A snapshotter opening a root that holds a marker from another boot knows that
 * sync never finished before the machine went down, and starts from an empty root.
 *
 * @example
 * await discardIfCrashed(root); // snapshot-gc.ts, under the root's lock: empties it if fromEarlierBoot(root)
 * const marker = await markUnsynced(root);
 * // … build …
 * syncInBackground(root, marker);
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { leftByDeadProcess } from '../store/lease.js';

const DIR = 'unsynced';

let boot: string | undefined;

/** The kernel's boot id: a crash (or any reboot) changes it. Empty where there is none to read. */
function bootId(): string {
  boot ??= (() => {
    try {
      return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      return '';
    }
  })();
  return boot;
}

function markerNames(root: string): string[] {
  try {
    return readdirSync(join(root, DIR));
  } catch {
    return [];
  }
}

/** Whether `root` holds writes of an earlier boot that were never known to reach the disk. */
export async function fromEarlierBoot(root: string): Promise<boolean> {
  const current = bootId();
  if (current === '') return false;
  for (const name of markerNames(root)) {
    const written = (await readFile(join(root, DIR, name), 'utf8').catch(() => '')).trim();
    if (written !== '' && written !== current) return true;
  }
  return false;
}

/** Records that this process is about to write snapshots in `root`; returns the marker's path. */
export async function markUnsynced(root: string): Promise<string> {
  await mkdir(join(root, DIR), { recursive: true, mode: 0o700 });
  const marker = join(root, DIR, `${process.pid}-${randomBytes(4).toString('hex')}`);
  await writeFile(marker, `${bootId()}\n`);
  return marker;
}

/**
 * Starts a detached `sync -f root` that deletes `marker`, and the markers of dead processes, once it
 * returns. It outlives this process on purpose: the build does not wait for the disk.
 */
export function syncInBackground(root: string, marker: string): void {
  const dead = markerNames(root)
    .filter((name) => leftByDeadProcess(name))
    .map((name) => join(root, DIR, name));
  // paths are arguments of the script, never part of it
  const script = 'sync -f "$1" && shift && rm -f -- "$@"';
  try {
    const child = spawn('sh', ['-c', script, 'sh', root, marker, ...dead], {
      detached: true,
      stdio: 'ignore',
    });
    child.on('error', () => {}); // no sh: the markers stay, and a reboot costs one re-extraction
    child.unref();
  } catch {
    // as above
  }
}
