/**
 * Temporary directories for one test file (not exported: core's own tests): one root under the OS
 * tmpdir, a fresh empty directory per case, everything removed at the end.
 *
 * ```ts
 * const scratch = scratchDirs('wharf-archive-test-');
 * afterAll(scratch.remove);
 * const dir = scratch.fresh(); // <root>/case-0, created
 * ```
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ScratchDirs {
  readonly root: string;
  /** A new, empty directory under the root. */
  fresh(): string;
  /** Removes the root and all below it. */
  remove(): void;
}

export function scratchDirs(prefix: string): ScratchDirs {
  const root = mkdtempSync(join(tmpdir(), prefix));
  let n = 0;
  return {
    root,
    fresh: () => {
      const dir = join(root, `case-${n++}`);
      mkdirSync(dir);
      return dir;
    },
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}
