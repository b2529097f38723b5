// `wharf build --platform linux/amd64,linux/arm64`: every platform in one run, one OCI index in every
// output that can hold one (type=oci, oci-archive, --push), a `FROM --platform=$BUILDPLATFORM` stage
// built once natively and shared, RUN emulated for arm64 (QEMU, registered by the global setup);
// `wharf push` of the layout pushes the index; a docker-archive of several platforms and a base
// without a requested platform fail before any work.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX_MULTI } from '../helpers/base-images.js';
import { buildDockerfile, type CliResult, wharfAsync } from '../helpers/cli.js';
import { docker } from '../helpers/docker.js';
import { noDocker, testEnv } from '../helpers/env.js';
import { tempDir } from '../helpers/paths.js';
import { type Registry, startRegistry } from '../helpers/registry.js';
import { skopeoInspect } from '../helpers/tools.js';

const DOCKERFILE = `ARG BASE=${BUSYBOX_MULTI.ref}
FROM --platform=$BUILDPLATFORM $BASE AS tools
RUN uname -m > /tools-arch && cat /proc/sys/kernel/random/uuid > /tools-once
FROM --platform=$BUILDPLATFORM $BASE AS cross
ARG TARGETARCH
RUN echo "$(uname -m) for $TARGETARCH" > /cross-note
FROM $BASE
COPY --from=tools /tools-arch /tools-once /
COPY --from=cross /cross-note /
RUN uname -m > /arch
`;

interface IndexJson {
  mediaType?: string;
  manifests: { mediaType: string; digest: string; platform?: { architecture: string; os: string } }[];
}

/** `wharf build -f Dockerfile CTX ARGS` (through the loopback mirror) with a cache of its own. */
async function build(
  args: readonly string[],
  dockerfile = DOCKERFILE,
): Promise<CliResult & { cacheDir: string }> {
  const context = tempDir('wharf-multi-ctx-');
  writeFileSync(join(context, 'Dockerfile'), dockerfile);
  const cacheDir = join(tempDir('wharf-multi-cache-'), 'cache');
  const result = await buildDockerfile(join(context, 'Dockerfile'), context, {
    cacheDir,
    progress: 'quiet',
    args,
  });
  return { ...result, cacheDir };
}

function blob(dir: string, digest: string): IndexJson {
  return JSON.parse(readFileSync(join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length)), 'utf8'));
}

describe.skipIf(noDocker())('wharf build with several platforms', () => {
  let registry: Registry;
  beforeAll(async () => {
    registry = await startRegistry();
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('builds both in one run into one index: oci layout, oci-archive and --push agree, each image runs as its platform', async () => {
    const out = tempDir('wharf-multi-out-');
    const ref = `${registry.host}/wharf/multi:1`;
    const result = await build([
      '--platform',
      'linux/amd64,linux/arm64',
      '-o',
      `type=oci,dest=${join(out, 'layout')}`,
      '-o',
      `type=oci-archive,dest=${join(out, 'image.tar')}`,
      '--push',
      '-t',
      ref,
    ]);
    expect(result.code, result.stderr).toBe(0);
    const indexDigest = result.stdout.trim();
    expect(indexDigest).toMatch(/^sha256:[0-9a-f]{64}$/);

    // The layout's index.json points at one OCI index listing both platforms.
    const layout = join(out, 'layout');
    const top = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as IndexJson;
    expect(top.manifests.map((m) => [m.mediaType, m.digest])).toEqual([
      ['application/vnd.oci.image.index.v1+json', indexDigest],
    ]);
    const index = blob(layout, indexDigest);
    expect(index.manifests.map((m) => `${m.platform?.os}/${m.platform?.architecture}`)).toEqual([
      'linux/amd64',
      'linux/arm64',
    ]);
    // The oci-archive holds the same index; the registry has it under the tag.
    const archived = (await skopeoInspect(`oci-archive:${join(out, 'image.tar')}`, { raw: true })) as unknown;
    expect(archived).toEqual(index);
    expect(await skopeoInspect(`docker://${ref}`, { raw: true })).toEqual(index);

    // Each image is for its platform; the $BUILDPLATFORM stage ran natively, once, for both.
    const files: Record<string, string> = {};
    for (const m of index.manifests) {
      const arch = m.platform?.architecture as string;
      files[arch] = await docker([
        'run',
        '--rm',
        '--platform',
        `linux/${arch}`,
        `${registry.host}/wharf/multi@${m.digest}`,
        'cat',
        '/arch',
        '/tools-arch',
        '/cross-note',
        '/tools-once',
      ]);
    }
    const [amd64, arm64] = [files.amd64?.split('\n'), files.arm64?.split('\n')];
    expect(amd64?.slice(0, 3)).toEqual(['x86_64', 'x86_64', 'x86_64 for amd64']);
    expect(arm64?.slice(0, 3)).toEqual(['aarch64', 'x86_64', 'x86_64 for arm64']);
    expect(arm64?.[3]).toBe(amd64?.[3]); // one run of the shared stage (a random UUID)

    // wharf push of the layout pushes the whole index, not one platform of it.
    const again = `${registry.host}/wharf/multi-pushed:1`;
    const pushed = await wharfAsync(['push', '--quiet', layout, again]);
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(pushed.stdout.trim()).toBe(`${again}@${indexDigest}`);
    expect(await skopeoInspect(`docker://${again}`, { raw: true })).toEqual(index);

    // The repeated flag is the same request as the comma list; JSON progress shows the push (blobs,
    // manifests, the index) and each output, the registry one with the references it pushed.
    const third = `${registry.host}/wharf/multi-json:1`;
    const repeated = await build([
      '--platform',
      'linux/amd64',
      '--platform',
      'linux/arm64',
      '-o',
      `type=oci,dest=${join(out, 'again')}`,
      '--push',
      '-t',
      third,
      '--progress',
      'json',
    ]);
    expect(repeated.code, repeated.stderr).toBe(0);
    const events = repeated.stderr
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { type: string; reference?: string; references?: string[] });
    expect(events.some((e) => e.type === 'blob-pushed' && e.reference === third)).toBe(true);
    // two platform manifests by digest, then the index under the tag
    expect(events.filter((e) => e.type === 'manifest-pushed').length).toBe(3);
    const written = events.filter((e) => e.type === 'output-written');
    expect(written.map((e) => e.references)).toEqual([undefined, [third]]);
    expect(written.map((e) => (e as { digest?: string }).digest)).toEqual([
      repeated.stdout.trim(),
      repeated.stdout.trim(),
    ]);
    const again2 = JSON.parse(readFileSync(join(out, 'again', 'index.json'), 'utf8')) as IndexJson;
    const nested = blob(join(out, 'again'), again2.manifests[0]?.digest as string);
    // /tools-once differs (a new cache, a new UUID), the platforms and their order do not
    expect(nested.manifests.map((m) => m.platform?.architecture)).toEqual(['amd64', 'arm64']);
  });

  it('a build.ts with define({ platforms }) builds them without --platform, with either backend; docker runs each', async () => {
    const dir = tempDir('wharf-multi-dsl-');
    writeFileSync(
      join(dir, 'build.ts'),
      `import { buildPlatform, define, stage } from '@wharf/core';
import { platformArgs } from '@wharf/core/dsl';
const tools = stage('tools').from('${BUSYBOX_MULTI.ref}', { platform: buildPlatform }).run('uname -m > /built-on');
const app = stage('app')
  .from('${BUSYBOX_MULTI.ref}')
  .arg(platformArgs.TARGETARCH)
  .copy(tools, '/built-on', '/built-on')
  .run(\`uname -m > /arch && echo \${platformArgs.TARGETARCH} >> /arch\`);
export default define({ target: app, platforms: ['linux/amd64', 'linux/arm64'] });
`,
    );
    const common = ['--progress', 'quiet', '--lint', 'off', '--registry-mirror', testEnv().mirror.url];
    const direct = await wharfAsync([
      'build',
      join(dir, 'build.ts'),
      ...common,
      '--cache-dir',
      join(dir, 'cache'),
      '-o',
      `type=oci,dest=${join(dir, 'direct')}`,
    ]);
    expect(direct.code, direct.stderr).toBe(0);
    const index = blob(join(dir, 'direct'), direct.stdout.trim());
    expect(index.manifests.map((m) => m.platform?.architecture)).toEqual(['amd64', 'arm64']);

    // --backend docker: one docker build --platform X each, assembled into one index and pushed.
    const ref = `${registry.host}/wharf/multi-docker:1`;
    const viaDocker = await wharfAsync([
      'build',
      join(dir, 'build.ts'),
      ...common,
      '--backend',
      'docker',
      '--push',
      '-t',
      ref,
    ]);
    expect(viaDocker.code, viaDocker.stderr).toBe(0);
    const pushed = (await skopeoInspect(`docker://${ref}`, { raw: true })) as unknown as IndexJson;
    expect(pushed.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(pushed.manifests.map((m) => m.platform?.architecture)).toEqual(['amd64', 'arm64']);
    const arm64 = pushed.manifests[1]?.digest as string;
    const out = await docker([
      'run',
      '--rm',
      '--platform',
      'linux/arm64',
      `${registry.host}/wharf/multi-docker@${arm64}`,
      'cat',
      '/arch',
      '/built-on',
    ]);
    expect(out.split('\n').slice(0, 3)).toEqual(['aarch64', 'arm64', 'x86_64']);
  });

  it('refuses a docker-archive of several platforms before any work, naming the fix', async () => {
    const out = tempDir('wharf-multi-docker-');
    const result = await build([
      '--platform',
      'linux/amd64,linux/arm64',
      '-o',
      `type=docker-archive,dest=${join(out, 'image.tar')}`,
    ]);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain('holds one platform, and this build has several');
    expect(result.stderr).toContain('hint: build one platform (--platform linux/amd64) for a docker-archive');
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(readdirSync(out)).toEqual([]);
    expect(existsSync(result.cacheDir)).toBe(false);
  });

  it('a base without one of the platforms fails clearly, never silently amd64', async () => {
    const out = tempDir('wharf-multi-missing-');
    const result = await build(
      ['--platform', 'linux/amd64,linux/s390x', '-o', `type=oci,dest=${join(out, 'layout')}`],
      `FROM ${BUSYBOX_MULTI.ref}\nCOPY Dockerfile /\n`,
    );
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain('has no image for linux/s390x');
    expect(result.stderr).toContain('available platforms: linux/amd64, linux/arm64');
    expect(result.stdout).toBe('');
    expect(readdirSync(out)).toEqual([]);
  });
});
