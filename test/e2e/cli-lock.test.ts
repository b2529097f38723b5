// wharf.lock against the real docker-registry: lock a base, build from the lock (also when the tag moved,
// was removed, or the registry is gone), `--locked` failing when the tag moved, `--update`, the pinned
// FROM in `wharf dockerfile`, lint accepting the lock; and a multi-platform base pinned by its index digest.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wharfAsync } from '../helpers/cli.js';
import { docker } from '../helpers/docker.js';
import { noDocker, testEnv } from '../helpers/env.js';
import { tempDir } from '../helpers/paths.js';
import { type Registry, startRegistry } from '../helpers/registry.js';
import { skopeoCopy } from '../helpers/tools.js';

const ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/** What `repo:tag` names in the registry now (its root digest), read without wharf. */
async function registryDigest(registry: Registry, repo: string, tag: string): Promise<string> {
  const response = await fetch(`${registry.url}/v2/${repo}/manifests/${tag}`, {
    method: 'HEAD',
    headers: { accept: ACCEPT },
  });
  expect(response.status).toBe(200);
  return response.headers.get('docker-content-digest') as string;
}

interface Lock {
  version: number;
  images: Record<string, { digest: string; mediaType: string; platforms?: Record<string, string> }>;
}
const readLockFile = (dir: string) => JSON.parse(readFileSync(join(dir, 'wharf.lock'), 'utf8')) as Lock;

describe.skipIf(noDocker())('wharf lock: bases pinned in wharf.lock', () => {
  let registry: Registry;
  beforeAll(async () => {
    registry = await startRegistry();
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('lock, build from the lock (tag moved, tag removed, registry gone), --locked, --update', async () => {
    const base = `${registry.host}/base/tool:1`;
    await docker(['pull', testEnv().busybox.ref]);
    await docker(['tag', testEnv().busybox.ref, base]);
    await docker(['push', base]);
    const first = await registryDigest(registry, 'base/tool', '1');

    const dir = tempDir();
    const app = join(dir, 'build.ts');
    writeFileSync(
      app,
      `import { stage } from '@wharf/core';\nexport default stage('app').from('${base}').run('echo hi > /hi');\n`,
    );
    const cacheA = tempDir();
    const build = (cacheDir: string, ...extra: string[]) =>
      wharfAsync(['build', app, '--progress', 'plain', '--lint', 'off', '--cache-dir', cacheDir, ...extra]);

    const locked = await wharfAsync(['lock', app]);
    expect(locked.code, locked.stderr).toBe(0);
    expect(locked.stdout).toBe(`${base} ${first} added\n`);
    expect(locked.stderr).toMatch(/^wrote .*wharf\.lock: 1 base\n$/);
    const text = readFileSync(join(dir, 'wharf.lock'), 'utf8');
    expect(readLockFile(dir)).toEqual({
      version: 1,
      images: { [base]: { digest: first, mediaType: expect.stringMatching(/manifest/) } },
    });
    // locking again changes nothing, byte for byte
    expect((await wharfAsync(['lock', app])).stdout).toBe(`${base} ${first} kept\n`);
    expect(readFileSync(join(dir, 'wharf.lock'), 'utf8')).toBe(text);

    const built = await build(cacheA);
    expect(built.code, built.stderr).toBe(0);
    expect(built.stderr).toContain(`wharf.lock: ${base} pinned to ${first}`);
    const image = built.stdout;

    // the emitted Dockerfile carries the pinned reference; lint counts the base as pinned
    const emitted = await wharfAsync(['dockerfile', app]);
    expect(emitted.code, emitted.stderr).toBe(0);
    expect(emitted.stdout).toContain(`FROM ${base}@${first}`);
    const lint = await wharfAsync(['lint', app, '--format', 'json', '--fail-on', 'error']);
    expect(lint.code, lint.stderr).toBe(0);
    expect((JSON.parse(lint.stdout) as { rule: string }[]).map((f) => f.rule)).not.toContain(
      'BaseNotPinnedByDigest',
    );

    // the tag moves: a new image is pushed under the same name
    const movedDef = join(tempDir(), 'build.ts');
    writeFileSync(
      movedDef,
      `import { stage } from '@wharf/core';\nexport default stage('moved').from('${base}').run('echo v2 > /v2');\n`,
    );
    const push = () =>
      wharfAsync([
        'build',
        movedDef,
        '--progress',
        'quiet',
        '--lint',
        'off',
        '--push',
        '-t',
        base,
        '--cache-dir',
        cacheA,
      ]);
    expect((await push()).code).toBe(0);
    const second = await registryDigest(registry, 'base/tool', '1');
    expect(second).not.toBe(first);

    const refused = await build(cacheA, '--locked', '--progress', 'quiet');
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toBe(
      `wharf: --locked: base ${base} moved: the registry has ${second}, wharf.lock has ${first}\n` +
        `  hint: run wharf lock --update ${base} to take the new image, or build without --locked to keep the locked one\n`,
    );
    // without --locked: the locked image, pulled by digest into a fresh cache, not the moved tag
    const fresh = await build(tempDir());
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(fresh.stdout).toBe(image);

    // the tag is removed (its link in the registry's storage): the lock still builds
    const tagDir = join(registry.storageDir, 'docker/registry/v2/repositories/base/tool/_manifests/tags/1');
    rmSync(tagDir, { recursive: true });
    expect((await fetch(`${registry.url}/v2/base/tool/manifests/1`, { method: 'HEAD' })).status).toBe(404);
    const untagged = await build(tempDir());
    expect(untagged.code, untagged.stderr).toBe(0);
    expect(untagged.stdout).toBe(image);
    const unchecked = await build(cacheA, '--locked', '--progress', 'quiet');
    expect(unchecked.code).toBe(1);
    expect(unchecked.stderr).toMatch(new RegExp(`^wharf: --locked: cannot check base ${base}: `));

    // the tag back (the same image), then --update takes it
    expect((await push()).code).toBe(0);
    expect(await registryDigest(registry, 'base/tool', '1')).toBe(second);
    const update = await wharfAsync(['lock', app, '--update', base]);
    expect(update.code, update.stderr).toBe(0);
    expect(update.stdout).toBe(`${base} ${second} updated (was ${first})\n`);
    expect(readLockFile(dir).images[base]?.digest).toBe(second);
    const unknown = await wharfAsync(['lock', app, '--update', 'alpine:3.20']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(
      /^wharf: --update alpine:3\.20: no stage of this build uses alpine:3\.20\n {2}hint: /,
    );

    const updated = await build(cacheA, '--locked');
    expect(updated.code, updated.stderr).toBe(0);
    expect(updated.stderr).toContain(`wharf.lock: ${base} pinned to ${second}`);
    expect(updated.stdout).not.toBe(image);

    // offline: the registry is gone; the locked base in the store still builds (not with --locked)
    await registry.stop();
    const offline = await build(cacheA);
    expect(offline.code, offline.stderr).toBe(0);
    expect(offline.stdout).toBe(updated.stdout);
  });
});

describe.skipIf(noDocker())('wharf lock -f Dockerfile: a multi-platform base pinned by its index', () => {
  it('locks the index digest and each platform, beside the Dockerfile; the build pulls from it', async () => {
    const registry = await startRegistry();
    try {
      const base = `${registry.host}/base/multi:1`;
      await skopeoCopy(`docker://${testEnv().mirror.host}/library/busybox:multi`, `docker://${base}`, [
        '--all',
      ]);
      const index = JSON.parse(
        await (
          await fetch(`${registry.url}/v2/base/multi/manifests/1`, { headers: { accept: ACCEPT } })
        ).text(),
      ) as { manifests: { digest: string; platform: { os: string; architecture: string } }[] };
      const indexDigest = await registryDigest(registry, 'base/multi', '1');

      const dir = tempDir();
      const context = tempDir();
      writeFileSync(join(context, 'f'), 'x');
      const dockerfile = join(dir, 'Dockerfile');
      writeFileSync(dockerfile, `FROM ${base}\nCOPY f /f\n`);
      const locked = await wharfAsync(['lock', '-f', dockerfile]);
      expect(locked.code, locked.stderr).toBe(0);
      const entry = readLockFile(dir).images[base];
      expect(entry?.digest).toBe(indexDigest); // the index's, never one platform's
      expect(entry?.mediaType).toMatch(/index|list/);
      expect(entry?.platforms).toEqual(
        Object.fromEntries(
          index.manifests.map((m) => [`${m.platform.os}/${m.platform.architecture}`, m.digest]),
        ),
      );

      const built = await wharfAsync([
        'build',
        '-f',
        dockerfile,
        context,
        '--locked',
        '--lint',
        'off',
        '--progress',
        'plain',
        '--cache-dir',
        tempDir(),
      ]);
      expect(built.code, built.stderr).toBe(0);
      expect(built.stderr).toContain(`wharf.lock: ${base} pinned to ${indexDigest}`);
    } finally {
      await registry.stop();
    }
  });
});
