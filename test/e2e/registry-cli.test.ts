// The registry through the CLI, against the real docker-registry on loopback: wharf build --push an
// image, docker pull + run it, skopeo inspect it; docker push an image and use it as a base for a
// direct build with RUN; wharf pull and wharf push round trip.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wharfAsync } from '../helpers/cli.js';
import { docker, dockerRun } from '../helpers/docker.js';
import { noDocker, testEnv } from '../helpers/env.js';
import { repoRoot, tempDir } from '../helpers/paths.js';
import { type Registry, startRegistry } from '../helpers/registry.js';
import { skopeoInspect } from '../helpers/tools.js';

describe.skipIf(noDocker())('registry through the CLI', () => {
  let registry: Registry;
  beforeAll(async () => {
    registry = await startRegistry();
  });
  afterAll(async () => {
    await registry?.stop();
  });

  /** `wharf build BUILD_TS --push -t REF` in a fresh cache, quiet and clean; returns the digest it prints. */
  async function buildAndPush(buildTs: string, ref: string): Promise<string> {
    const result = await wharfAsync([
      'build',
      '--progress',
      'quiet',
      buildTs,
      '--push',
      '-t',
      ref,
      '--cache-dir',
      tempDir(),
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    return result.stdout.trim();
  }

  it('wharf build --push: docker pulls and runs what wharf pushed; skopeo agrees on the digest', async () => {
    const ref = `${registry.host}/wharf/hello:1.0`;
    const digest = await buildAndPush(join(repoRoot, 'examples/hello/build.ts'), ref);
    expect((await skopeoInspect(`docker://${ref}`)).Digest).toBe(digest);
    await docker(['pull', ref]);
    expect(await dockerRun({ image: ref })).toBe('Hello from wharf!\n');
  });

  it('uses an image that docker push put there as the base of a direct build with RUN', async () => {
    const base = `${registry.host}/base/busybox:1`;
    await docker(['pull', testEnv().busybox.ref]);
    await docker(['tag', testEnv().busybox.ref, base]);
    await docker(['push', base]);
    const dir = tempDir();
    writeFileSync(
      join(dir, 'build.ts'),
      [
        "import { stage } from '@wharf/core';",
        `export default stage('app').from('${base}').run('echo built-on-pushed-base > /built.txt').cmd(['cat', '/built.txt']);`,
        '',
      ].join('\n'),
    );
    const ref = `${registry.host}/wharf/on-base:1`;
    const digest = await buildAndPush(join(dir, 'build.ts'), ref);
    // The base is Docker schema 2: our layer must be listed with a Docker media type, or skopeo refuses.
    expect((await skopeoInspect(`docker://${ref}`)).Digest).toBe(digest);
    const manifest = (await skopeoInspect(`docker://${ref}`, { raw: true })) as {
      layers: { mediaType: string }[];
    };
    // Every layer is pushed gzipped, in the Docker family of the base (layers are built as tars).
    expect(new Set(manifest.layers.map((l) => l.mediaType))).toEqual(
      new Set(['application/vnd.docker.image.rootfs.diff.tar.gzip']),
    );
    await docker(['pull', ref]);
    expect(await dockerRun({ image: ref })).toBe('built-on-pushed-base\n');
  });

  it('wharf pull writes a layout that wharf push sends back unchanged', async () => {
    const source = `${registry.host}/wharf/hello:1.0`;
    const dir = tempDir();
    const pulled = await wharfAsync([
      'pull',
      source,
      '-o',
      `type=oci,dest=${join(dir, 'layout')}`,
      '--quiet',
    ]);
    expect(pulled.code).toBe(0);
    const target = `${registry.host}/wharf/hello-copy:1.0`;
    const pushed = await wharfAsync(['push', join(dir, 'layout'), target, '--quiet']);
    expect(pushed.stderr).toBe('');
    expect(pushed.code).toBe(0);
    const [a, b] = await Promise.all([
      skopeoInspect(`docker://${source}`),
      skopeoInspect(`docker://${target}`),
    ]);
    expect(b.Digest).toBe(a.Digest);
  });

  it('wharf pull -o type=oci of a multi-platform image keeps the whole index; --platform picks one', async () => {
    const source = `${testEnv().mirror.host}/library/busybox:multi`;
    const index = (await skopeoInspect(`docker://${source}`, { raw: true })) as {
      manifests: { digest: string; platform: { architecture: string } }[];
    };
    const indexDigest = (await skopeoInspect(`docker://${source}`)).Digest as string;
    const dir = tempDir();
    const cacheDir = tempDir();

    // no --platform, an OCI output: the index itself, every platform's blobs in the layout (as crane)
    const whole = await wharfAsync([
      'pull',
      source,
      '-o',
      `type=oci,dest=${join(dir, 'all')}`,
      '--cache-dir',
      cacheDir,
    ]);
    expect(whole.code, whole.stderr).toBe(0);
    expect(whole.stdout.trim()).toBe(`${source}@${indexDigest}`);
    expect(whole.stderr).toMatch(/ for linux\/amd64, linux\/arm64, /);
    const layout = JSON.parse(readFileSync(join(dir, 'all', 'index.json'), 'utf8')) as {
      manifests: { digest: string; mediaType: string }[];
    };
    expect(layout.manifests.map((m) => m.digest)).toEqual([indexDigest]);
    const blob = (digest: string) => join(dir, 'all', 'blobs', ...digest.split(':'));
    expect(JSON.parse(readFileSync(blob(indexDigest), 'utf8'))).toEqual(index);
    for (const child of index.manifests) {
      const manifest = JSON.parse(readFileSync(blob(child.digest), 'utf8')) as {
        config: { digest: string };
        layers: { digest: string }[];
      };
      for (const d of [manifest.config, ...manifest.layers])
        expect(existsSync(blob(d.digest)), d.digest).toBe(true);
    }
    // and wharf push sends the same index back
    const target = `${registry.host}/wharf/multi-copy:1`;
    const pushed = await wharfAsync(['push', join(dir, 'all'), target, '--quiet']);
    expect(pushed.code, pushed.stderr).toBe(0);
    expect((await skopeoInspect(`docker://${target}`)).Digest).toBe(indexDigest);

    // --platform all without an output: every platform into the store
    const all = await wharfAsync(['pull', source, '--platform', 'all', '--cache-dir', tempDir()]);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout.trim()).toBe(`${source}@${indexDigest}`);

    // --platform linux/arm64: that platform's image alone
    const arm = index.manifests.find((m) => m.platform.architecture === 'arm64');
    const one = await wharfAsync([
      'pull',
      source,
      '--platform',
      'linux/arm64',
      '-o',
      `type=oci,dest=${join(dir, 'arm64')}`,
      '--cache-dir',
      cacheDir,
    ]);
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout.trim()).toBe(`${source}@${arm?.digest}`);
    const armLayout = JSON.parse(readFileSync(join(dir, 'arm64', 'index.json'), 'utf8')) as {
      manifests: { digest: string }[];
    };
    expect(armLayout.manifests.map((m) => m.digest)).toEqual([arm?.digest]);
  });

  it('a missing image is a clear error naming the registry and repository', async () => {
    const result = await wharfAsync(['inspect', `${registry.host}/wharf/nope:1`]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/wharf\/nope/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
