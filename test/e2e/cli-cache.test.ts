// wharf cache ls / prune: what the build cache holds, pruning to a size (oldest first) and entirely.
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { wharf } from '../helpers/cli.js';
import { noDocker, testEnv } from '../helpers/env.js';
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

  it.skipIf(noDocker())('counts and prunes RUN snapshots and cache mounts too', () => {
    const dir = tempDir();
    const cacheDir = join(dir, 'cache');
    const definition = join(dir, 'build.ts');
    writeFileSync(
      definition,
      [
        "import { cache, stage } from '@wharf/core';",
        "export default stage('app').from('busybox')",
        "  .run('echo one > /one && echo hit >> /c/log', { mounts: [cache('/c')] })",
        "  .run('echo two > /two');",
        '',
      ].join('\n'),
    );
    const build = () =>
      wharf([
        'build',
        definition,
        '--progress',
        'quiet',
        '--cache-dir',
        cacheDir,
        '--registry-mirror',
        testEnv().mirror.url,
      ]);
    expect(build().code).toBe(0);
    const listed = wharf(['cache', 'ls', '--cache-dir', cacheDir]).stdout;
    // the base layer plus the two RUN layers, kept extracted for the next RUN
    expect(listed).toMatch(/Snapshots: +3 extracted layers \(\d/);
    expect(listed).not.toMatch(/Cache mounts: +0 B/);
    // a size that keeps no step layer keeps no snapshot either
    const some = wharf(['cache', 'prune', '--cache-dir', cacheDir, '--keep-storage', '1B']);
    expect(some.stdout).toMatch(/^removed 2 step records, .* of blobs, 3 snapshots \(/);
    expect(readdirSync(join(cacheDir, 'snapshots', 'layers'))).toEqual([]);
    expect(existsSync(join(cacheDir, 'cache-mounts'))).toBe(true); // only --all removes cache mounts
    expect(build().code).toBe(0);
    const all = wharf(['cache', 'prune', '--cache-dir', cacheDir, '--all']);
    expect(all.stdout).toMatch(/, 3 snapshots \(.*\), [\d.]+ [kM]?B of cache mounts\n$/);
    expect(wharf(['cache', 'ls', '--cache-dir', cacheDir]).stdout).toMatch(
      /Snapshots: +0 extracted layers \(0 B\)\nCache mounts: 0 B/,
    );
    expect(existsSync(join(cacheDir, 'cache-mounts'))).toBe(false);
    expect(existsSync(join(cacheDir, 'views'))).toBe(false); // views of layers that are gone
    expect(build().code).toBe(0); // and the cache works again from nothing
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
