// wharf cache ls / prune: what the build cache holds, pruning to a size (oldest first) and entirely.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cacheFlags } from '../helpers/cache-flags.js';
import { buildDockerfile, wharf, wharfAsync } from '../helpers/cli.js';
import { noDocker } from '../helpers/env.js';
import { repoRoot, tempDir } from '../helpers/paths.js';

describe('wharf cache', () => {
  it('lists, prunes to a size, and prunes everything; a rebuild then misses with a reason', async () => {
    const cacheDir = tempDir();
    const hello = join(repoRoot, 'examples/hello/build.ts');
    expect((await wharfAsync(['build', '--progress', 'quiet', hello, '--cache-dir', cacheDir])).code).toBe(0);
    expect(wharf(['cache', 'ls', '--cache-dir', cacheDir]).stdout).toMatch(/Step records: 3 \(/);
    // Layers are stored as tars (1.5, 3 and 3.5 kB here): 7000 B keeps the two newest.
    const kept = wharf(['cache', 'prune', '--cache-dir', cacheDir, '--keep-storage', '7000B']);
    expect(kept.stdout).toMatch(/^removed 1 step records/);
    const all = wharf(['cache', 'prune', '--cache-dir', cacheDir, '--all']);
    expect(all.code).toBe(0);
    expect(wharf(['cache', 'ls', '--cache-dir', cacheDir]).stdout).toMatch(
      /Step records: 0 .*\n.*Blobs: +0 /s,
    );
    const rebuilt = await wharfAsync(['build', '--progress', 'json', hello, '--cache-dir', cacheDir]);
    expect(rebuilt.code).toBe(0);
    expect(rebuilt.stderr).toMatch(/"miss":"no record of an identical step/);
  });

  it.skipIf(noDocker())('counts and prunes RUN snapshots and cache mounts too', async () => {
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
    const build = () => wharfAsync(['build', definition, ...cacheFlags(cacheDir)]);
    expect((await build()).code).toBe(0);
    const listed = wharf(['cache', 'ls', '--cache-dir', cacheDir]).stdout;
    // the base layer plus the two RUN layers, kept extracted for the next RUN
    expect(listed).toMatch(/Snapshots: +3 extracted layers \(\d/);
    expect(listed).not.toMatch(/Cache mounts: +0 B/);
    expect(listed).toMatch(/\nCACHE MOUNT .*\n\/c +[\d.]+ [kM]?B +20\d\d-/);
    expect(listed).toMatch(/\nSTEP KEY .*\n[0-9a-f]{12} +sha256:[0-9a-f]{12} /);
    const json = JSON.parse(wharf(['cache', 'ls', '--json', '--cache-dir', cacheDir]).stdout) as {
      usage: { records: number; blobs: number };
      steps: { key: string; layer: { digest: string } | null }[];
      cacheMounts: { id: string; bytes: number; lastUsedMs: number }[];
    };
    expect(json.usage.records).toBe(2);
    expect(json.steps.map((s) => s.layer?.digest)).toEqual([
      expect.stringMatching(/^sha256:/),
      expect.stringMatching(/^sha256:/),
    ]);
    expect(json.cacheMounts).toEqual([
      { id: '/c', bytes: expect.any(Number), lastUsedMs: expect.any(Number) },
    ]);
    expect(json.usage.blobs).toBeGreaterThan(2); // the base image's blobs and gzip copies too
    // --keep-storage holds for every kind: a size that keeps no step layer keeps no snapshot, no
    // cache mount and no other blob (the base's) either
    const some = wharf(['cache', 'prune', '--cache-dir', cacheDir, '--keep-storage', '1B']);
    expect(some.stdout).toMatch(
      /^removed 2 step records, .* of blobs, 3 snapshots \(.*\), [\d.]+ [kM]?B of cache mounts\n$/,
    );
    expect(readdirSync(join(cacheDir, 'snapshots', 'layers'))).toEqual([]);
    const after = JSON.parse(wharf(['cache', 'ls', '--json', '--cache-dir', cacheDir]).stdout);
    expect(after.usage.blobs).toBe(0);
    expect(after.usage.storeBytes).toBe(0);
    expect(after.cacheMounts).toEqual([]);
    expect((await build()).code).toBe(0);
    const all = wharf(['cache', 'prune', '--cache-dir', cacheDir, '--all']);
    expect(all.stdout).toMatch(/, 3 snapshots \(.*\), [\d.]+ [kM]?B of cache mounts\n$/);
    expect(wharf(['cache', 'ls', '--cache-dir', cacheDir]).stdout).toMatch(
      /Snapshots: +0 extracted layers \(0 B\)\nCache mounts: 0 B/,
    );
    expect(existsSync(join(cacheDir, 'cache-mounts'))).toBe(false);
    expect(existsSync(join(cacheDir, 'views'))).toBe(false); // views of layers that are gone
    expect((await build()).code).toBe(0); // and the cache works again from nothing
  });

  it('asks what to keep, and rejects a bad size', () => {
    expect(wharf(['cache', 'prune', '--cache-dir', tempDir()]).stderr).toMatch(
      /^wharf: say how much to keep/,
    );
    const bad = wharf(['cache', 'prune', '--cache-dir', tempDir(), '--keep-storage', 'lots']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/invalid --keep-storage "lots"/);
  });

  it.skipIf(noDocker())(
    'explains a miss by the ENV, ARG and USER that changed and the file edited',
    async () => {
      const dir = tempDir();
      const context = join(dir, 'context');
      mkdirSync(join(context, 'src'), { recursive: true });
      for (let i = 0; i < 30; i++) writeFileSync(join(context, 'src', `m${i}.js`), `${i}\n`);
      const dockerfile = (env: string, user: string) =>
        [
          'FROM busybox',
          'ARG VERSION=1',
          'ARG NPM_TOKEN',
          `ENV MODE=${env}`,
          `USER ${user}`,
          'WORKDIR /app',
          'COPY src ./src',
          'RUN echo "$VERSION $NPM_TOKEN" > /tmp/v',
          '',
        ].join('\n');
      const build = async (env: string, user: string, args: string[]) => {
        writeFileSync(join(dir, 'Dockerfile'), dockerfile(env, user));
        const result = await buildDockerfile(join(dir, 'Dockerfile'), context, {
          progress: 'json',
          cacheDir: join(dir, 'cache'),
          args: args.flatMap((a) => ['--build-arg', a]),
        });
        expect(result.code, result.stderr).toBe(0);
        const misses = new Map<string, string>();
        for (const line of result.stderr.trim().split('\n')) {
          const e = JSON.parse(line) as { type: string; text?: string; miss?: string };
          if (e.type === 'step-finished' && e.miss && e.text) misses.set(e.text.split(' ')[0] ?? '', e.miss);
        }
        return { misses, stderr: result.stderr };
      };
      await build('dev', 'root', ['NPM_TOKEN=first-s3cret']);
      writeFileSync(join(context, 'src', 'm7.js'), 'edited\n');
      const second = await build('prod', 'app', ['VERSION=2', 'NPM_TOKEN=second-s3cret']);
      const changed = [
        'an earlier step changed', // WORKDIR's layer: /app now belongs to app
        'ENV MODE "dev" → "prod"',
        'USER "root" → "app"',
        'build arg NPM_TOKEN changed (the value is not shown: the name looks secret)',
        'build arg VERSION "1" → "2"',
      ];
      expect(second.misses.get('COPY')).toBe(
        [
          ...changed,
          'context file src/m7.js changed (copied to /app/src/m7.js), image path /app mode or owner changed',
        ].join('; '),
      );
      expect(second.misses.get('RUN')).toBe(changed.join('; '));
      expect(second.stderr).not.toMatch(/s3cret/);
      // Only the edited file, by name: no "and 1 more files".
      writeFileSync(join(context, 'src', 'm8.js'), 'edited\n');
      writeFileSync(join(context, 'src', 'm9.js'), 'edited\n');
      expect((await build('prod', 'app', ['VERSION=2', 'NPM_TOKEN=second-s3cret'])).misses.get('COPY')).toBe(
        'context file src/m8.js changed (copied to /app/src/m8.js), context file src/m9.js changed (copied to /app/src/m9.js)',
      );
    },
  );
});
