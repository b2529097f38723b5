// Where things live: the checkout, the persistent test state, scratch dirs. (The peer suites: conformance/peer-suites.ts.)
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// vitest's test hooks exist only in test workers; globalSetup (main process) imports this file too.
const onTestFinished = process.env.VITEST_POOL_ID ? (await import('vitest')).onTestFinished : undefined;

/** The monorepo root (this file is test/helpers/paths.ts). */
export const repoRoot: string = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Persistent state shared by test runs (mirror storage, dockerd log, base-image markers).
 * Outside the checkout so `git clean` does not throw away the warm cache; override with WHARF_TEST_STATE.
 */
export function stateDir(): string {
  const dir = process.env.WHARF_TEST_STATE || join(homedir(), '.cache', 'wharf-test');
  mkdirSync(dir, { recursive: true });
  return dir;
}

const pending = new Set<string>();
let exitHooked = false;

function removeNow(dir: string): void {
  pending.delete(dir);
  rmSync(dir, { recursive: true, force: true });
}

/**
 * A fresh scratch directory. Inside a test it is removed when the test finishes; elsewhere (hooks,
 * module scope) when the worker process exits. Set WHARF_KEEP_TEMP=1 to keep them for debugging.
 */
export function tempDir(prefix = 'wharf-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (process.env.WHARF_KEEP_TEMP) return dir;
  pending.add(dir);
  try {
    if (!onTestFinished) throw new Error('not in a test worker');
    onTestFinished(() => removeNow(dir));
  } catch {
    // Not inside a running test: fall back to process exit.
    if (!exitHooked) {
      exitHooked = true;
      process.on('exit', () => {
        for (const d of pending) rmSync(d, { recursive: true, force: true });
      });
    }
  }
  return dir;
}
