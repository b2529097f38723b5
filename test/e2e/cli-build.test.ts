// `wharf build` end to end: the CLI builds the examples with the direct backend (no daemon involved in
// the build), and the real tools accept what it writes: docker load + run, skopeo inspect, umoci unpack,
// (the OCI JSON schemas: test/conformance/). A Dockerfile built with -f gives the same digest as the build.ts it came from.
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { wharfAsync } from '../helpers/cli.js';
import { docker, dockerInspectImage, dockerRun } from '../helpers/docker.js';
import { noDocker } from '../helpers/env.js';
import { repoRoot, tempDir } from '../helpers/paths.js';
import { skopeoInspect, umociUnpack } from '../helpers/tools.js';

const hello = join(repoRoot, 'examples/hello/build.ts');
const digestLine = /^sha256:[0-9a-f]{64}$/;

async function build(args: string[], cwd?: string) {
  const result = await wharfAsync(['build', '--progress', 'quiet', ...args], cwd ? { cwd } : {});
  return { ...result, digest: result.stdout.trim() };
}

describe('wharf build (direct backend)', () => {
  it('is reproducible: the same digest twice, from another folder, with another cache', async () => {
    const a = await build([hello, '--cache-dir', tempDir()]);
    const b = await build([hello, '--cache-dir', tempDir()], tempDir());
    expect(a.code).toBe(0);
    expect(a.digest).toMatch(digestLine);
    expect(b.digest).toBe(a.digest);
    const epoch = await wharfAsync(['build', '--progress', 'quiet', hello], {
      env: { SOURCE_DATE_EPOCH: '1700000000' },
    });
    expect(epoch.stdout.trim()).not.toBe(a.digest);
  });

  it('leaves nothing behind when the build fails, and keeps an existing output', async () => {
    const dir = tempDir();
    const definition = join(dir, 'build.ts');
    writeFileSync(
      definition,
      "import { stage } from '@wharf/core';\nexport default stage('x').from('scratch').copy('missing.txt', '/m');\n",
    );
    const dest = join(dir, 'out.tar');
    writeFileSync(dest, 'previous output');
    const result = await build([definition, '-o', `type=oci-archive,dest=${dest}`]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^wharf: .*stage "x", instruction 1: .*missing\.txt/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(readdirSync(dir).sort()).toEqual(['build.ts', 'out.tar']);
  });

  it('rejects a bad output spec before building, naming it', async () => {
    const result = await build([hello, '-o', 'type=zip,dest=x']);
    expect(result.code).toBe(2); // a usage error (issue 15), like an unknown flag
    expect(result.stderr).toMatch(/type=zip/);
    expect(existsSync(join(repoRoot, 'x'))).toBe(false);
  });

  it('builds the Dockerfile that wharf dockerfile emits to the same digest (-f)', async () => {
    const dir = tempDir();
    const dockerfile = join(dir, 'Dockerfile');
    expect((await wharfAsync(['dockerfile', hello, '-o', dockerfile])).code).toBe(0);
    const fromTs = await build([hello]);
    const fromDockerfile = await build(['-f', dockerfile, join(repoRoot, 'examples/hello')]);
    expect(fromDockerfile.stderr).toBe('');
    expect(fromDockerfile.code).toBe(0);
    // Same IR, same steps, same history text: the same image, byte for byte.
    expect(fromDockerfile.digest).toBe(fromTs.digest);
  });
});

describe.skipIf(noDocker())('what wharf build writes runs in Docker and reads in skopeo and umoci', () => {
  it('docker load + docker run of the hello example prints its greeting', async () => {
    const dir = tempDir();
    const file = join(dir, 'hello.docker.tar');
    const built = await build([
      hello,
      '-o',
      `type=docker-archive,dest=${file}`,
      '-t',
      'wharf-e2e/hello:direct',
    ]);
    expect(built.code, built.stderr).toBe(0);
    expect(await docker(['load', '-i', file])).toContain('Loaded image: wharf-e2e/hello:direct');
    expect(await dockerRun({ image: 'wharf-e2e/hello:direct' })).toBe('Hello from wharf!\n');
    const inspected = await dockerInspectImage('wharf-e2e/hello:direct');
    // With only a docker-archive, stdout is the image ID build() returns: the one Docker gives the image.
    expect(built.digest).toBe(inspected.Id);
    const config = inspected.Config;
    expect(config).toMatchObject({ User: '1000:1000', WorkingDir: '/app', Cmd: ['/usr/local/bin/hello'] });
  });

  it('--backend docker builds with BuildKit and writes the same kinds of output', async () => {
    const dir = tempDir();
    const file = join(dir, 'node-app.oci.tar');
    const result = await wharfAsync(
      [
        'build',
        '--progress',
        'quiet',
        '--backend',
        'docker',
        join(repoRoot, 'examples/node-app/build.ts'),
        '-o',
        `type=oci-archive,dest=${file}`,
      ],
      { env: { WHARF_DOCKER: '/usr/bin/docker' } },
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const inspected = await skopeoInspect(`oci-archive:${file}`);
    expect(inspected.Digest).toBe(result.stdout.trim());
    const viaDockerfile = await wharfAsync(
      [
        'build',
        '--progress',
        'quiet',
        '--backend',
        'docker',
        '-f',
        join(repoRoot, 'test/fixtures/everything/Dockerfile.simple'),
        dir,
      ],
      { env: { WHARF_DOCKER: '/usr/bin/docker' } },
    );
    expect(viaDockerfile.code).toBe(0);
    const missing = await wharfAsync(['build', '--backend', 'docker', hello], {
      env: { WHARF_DOCKER: '/nonexistent/docker' },
    });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot build with WHARF_DOCKER=\/nonexistent\/docker: not found/);
  });

  it('--backend docker passes --secret, --no-cache and --pull to docker build', async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'build.ts'),
      [
        "import { secret, stage } from '@wharf/core';",
        "export default stage('app').from('busybox')",
        `  .run('test "$(cat /run/secrets/tok)" = sekrit && echo ok > /ok', { mounts: [secret('tok', { required: true })] });`,
        '',
      ].join('\n'),
    );
    const run = (...extra: string[]) =>
      wharfAsync(['build', '--progress', 'plain', '--backend', 'docker', join(dir, 'build.ts'), ...extra], {
        env: { WHARF_DOCKER: '/usr/bin/docker', TOK: 'sekrit' },
      });
    const first = await run('--secret', 'id=tok,env=TOK');
    expect(first.code, first.stderr).toBe(0);
    const again = await run('--secret', 'id=tok,env=TOK', '--no-cache', '--pull');
    expect(again.code, again.stderr).toBe(0);
    const output = again.stdout + again.stderr;
    expect(output).toMatch(/RUN --mount=type=secret,id=tok,required/);
    // the RUN ran again (BuildKit prints `#N CACHED` right after a step it reused)
    expect(output).toMatch(/#(\d+) \[2\/2\] RUN [^\n]*\n/);
    expect(output).not.toMatch(/#(\d+) \[2\/2\] RUN [^\n]*\n#\1 CACHED/);
    const missing = await run('--no-cache'); // a required secret not given: BuildKit refuses the step
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/secret tok not found/);
  });

  it('skopeo inspects the oci-archive, umoci unpacks the layout', async () => {
    const dir = tempDir();
    const archiveFile = join(dir, 'hello.oci.tar');
    const layoutDir = join(dir, 'layout');
    const result = await build([
      hello,
      '-o',
      `type=oci-archive,dest=${archiveFile}`,
      '-o',
      `type=oci,dest=${layoutDir}`,
      '-t',
      'hello:latest',
    ]);
    expect(result.code).toBe(0);
    const inspected = await skopeoInspect(`oci-archive:${archiveFile}`);
    expect(inspected.Digest).toBe(result.digest);
    expect(inspected.Labels).toMatchObject({ 'org.opencontainers.image.title': 'hello' });
    const rootfs = join(await umociUnpack(`${layoutDir}:latest`, join(dir, 'bundle')), 'rootfs');
    expect(existsSync(join(rootfs, 'usr/local/bin/hello'))).toBe(true);
    expect(existsSync(join(rootfs, 'app/static/index.html'))).toBe(true);
  });
});
