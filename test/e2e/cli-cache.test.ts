// wharf cache ls / prune: what the build cache holds, pruning to a size (oldest first) and entirely.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { wharf } from '../helpers/cli.js';
import { repoRoot, tempDir } from '../helpers/paths.js';

describe('wharf cache', () => {
  it('lists, prunes to a size, and prunes everything; a rebuild then misses with a reason', () => {
    const cacheDir = tempDir();
    const hello = join(repoRoot, 'examples/hello/build.ts');
    expect(wharf(['build', '--progress', 'quiet', hello, '--cache-dir', cacheDir]).code).toBe(0);
    expect(wharf(['cache', 'ls', '--cache-dir', cacheDir]).stdout).toMatch(/Step records: 3 \(/);
    // Layers are stored as tars (1.5, 3 and 3.5 kB here): 7000 B keeps the two newest.
    const kept = wharf(['cache', 'prune', '--cache-dir', cacheDir, '--keep-storage', '7000B']);
    expect(kept.stdout).toMatch(/^removed 1 step records/);
    const all = wharf(['cache', 'prune', '--cache-dir', cacheDir, '--all']);
    expect(all.code).toBe(0);
    expect(wharf(['cache', 'ls', '--cache-dir', cacheDir]).stdout).toMatch(
      /Step records: 0 .*\n.*Blobs: +0 /s,
    );
    const rebuilt = wharf(['build', '--progress', 'json', hello, '--cache-dir', cacheDir]);
    expect(rebuilt.code).toBe(0);
    expect(rebuilt.stderr).toMatch(/"miss":"no record of an identical step/);
  });

  it('asks what to keep, and rejects a bad size', () => {
    expect(wharf(['cache', 'prune', '--cache-dir', tempDir()]).stderr).toMatch(
      /^wharf: say how much to keep/,
    );
    const bad = wharf(['cache', 'prune', '--cache-dir', tempDir(), '--keep-storage', 'lots']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/invalid --keep-storage "lots"/);
  });
});
