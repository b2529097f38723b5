// Base images pulled before are reused without the registry, as `docker build` reuses an image it
// has; `--pull` asks the registry again (and sees a tag that moved). Against the real docker-registry.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wharfAsync } from '../helpers/cli.js';
import { docker } from '../helpers/docker.js';
import { noDocker, testEnv } from '../helpers/env.js';
import { tempDir } from '../helpers/paths.js';
import { type Registry, startRegistry } from '../helpers/registry.js';

/** A build.ts in a fresh folder. */
function definition(source: readonly string[]): string {
  const file = join(tempDir(), 'build.ts');
  writeFileSync(file, ['import { stage } from "@wharf/core";', ...source, ''].join('\n'));
  return file;
}

describe.skipIf(noDocker())('base images: reused as pulled, --pull to refresh', () => {
  let registry: Registry;
  beforeAll(async () => {
    registry = await startRegistry();
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('builds from the recorded base without the registry; --pull sees the moved tag and explains the miss', async () => {
    const base = `${registry.host}/base/tool:1`;
    await docker(['pull', testEnv().busybox.ref]);
    await docker(['tag', testEnv().busybox.ref, base]);
    await docker(['push', base]);
    const app = definition([`export default stage('app').from('${base}').run('echo hi > /hi');`]);
    const cacheDir = tempDir();
    const build = (...extra: string[]) =>
      wharfAsync(['build', app, '--progress', 'json', '--cache-dir', cacheDir, ...extra]);
    const first = await build();
    expect(first.code, first.stderr).toBe(0);

    // the tag moves: a new image is pushed under the same name
    const moved = definition([`export default stage('moved').from('${base}').run('echo v2 > /v2');`]);
    const push = await wharfAsync([
      'build',
      moved,
      '--progress',
      'quiet',
      '--push',
      '-t',
      base,
      '--cache-dir',
      cacheDir,
    ]);
    expect(push.code, push.stderr).toBe(0);

    const reused = await build();
    expect(reused.code, reused.stderr).toBe(0);
    expect(reused.stdout).toBe(first.stdout); // the base as pulled the first time: every step cached
    expect(reused.stderr).not.toMatch(/"miss"/);

    const pulled = await build('--pull');
    expect(pulled.code, pulled.stderr).toBe(0);
    expect(pulled.stdout).not.toBe(first.stdout);
    expect(pulled.stderr).toMatch(/"miss":"the base image changed/);

    // offline: the registry is gone; the base recorded by --pull still builds, --pull cannot
    await registry.stop();
    const offline = await build();
    expect(offline.code, offline.stderr).toBe(0);
    expect(offline.stdout).toBe(pulled.stdout);
    const refused = await build('--pull', '--progress', 'quiet');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^wharf: .*base\/tool.*\n {2}hint: check that the registry is reachable/s);
  });

  it('wharf pull records the base too: a build after it needs no registry', async () => {
    const own = await startRegistry();
    try {
      const base = `${own.host}/base/pulled:1`;
      await docker(['tag', testEnv().busybox.ref, base]);
      await docker(['push', base]);
      const env = { XDG_CACHE_HOME: tempDir() }; // pull and build share the default cache
      const pulled = await wharfAsync(['pull', base], { env });
      expect(pulled.code, pulled.stderr).toBe(0);
      const cacheDir = tempDir(); // or a cache named on both
      expect((await wharfAsync(['pull', base, '--cache-dir', cacheDir])).code).toBe(0);
      await own.stop();
      const app = definition([`export default stage('app').from('${base}').run('echo hi > /hi');`]);
      const built = await wharfAsync(['build', app, '--progress', 'quiet'], { env });
      expect(built.stderr).toBe('');
      expect(built.code).toBe(0);
      const named = await wharfAsync(['build', app, '--progress', 'quiet', '--cache-dir', cacheDir]);
      expect(named.stderr).toBe('');
      expect(named.code).toBe(0);
    } finally {
      await own.stop();
    }
  });
});
