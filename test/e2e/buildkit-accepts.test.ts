// BuildKit accepts what wharf emits: compile build definitions to Dockerfiles, build them with Debian's
// BuildKit (DOCKER_BUILDKIT=1 /usr/bin/docker build) against look-alike bases served by the loopback
// mirror, and check the resulting image config and files.
import { execFileSync } from 'node:child_process';
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { wharfAsync } from '../helpers/cli.js';
import { docker, dockerBuild, dockerInspectImage, dockerRun } from '../helpers/docker.js';
import { noDocker, testEnv } from '../helpers/env.js';
import { run } from '../helpers/exec.js';
import { repoRoot, tempDir } from '../helpers/paths.js';

/**
 * Copies a definition's folder to a scratch dir and compiles it there, writing the Dockerfile (and the
 * .dockerignore) into `contextDir` of that folder, where `docker build` reads them. Returns the folder.
 */
async function compile(
  sourceDir: string,
  definition: string,
  options: { target?: string; contextDir?: string } = {},
): Promise<string> {
  const dir = tempDir('wharf-bk-');
  cpSync(sourceDir, dir, { recursive: true });
  const out = join(dir, options.contextDir ?? '.', 'Dockerfile');
  const result = await wharfAsync([
    'dockerfile',
    join(dir, definition),
    '-o',
    out,
    ...(options.target ? ['--target', options.target] : []),
  ]);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return dir;
}

const seconds = (n: number) => n * 1_000_000_000;

describe.skipIf(noDocker())('BuildKit builds the Dockerfiles wharf emits', () => {
  beforeAll(() => {
    expect(testEnv().available).toBe(true);
  });

  it('every instruction and flag Debian’s BuildKit supports', async () => {
    const dir = await compile(join(repoRoot, 'test/fixtures/everything'), 'build.ts', {
      target: 'everything',
    });
    execFileSync('tar', ['-czf', join(dir, 'archive.tar.gz'), '-C', join(dir, 'archive-src'), '.']);
    const secretFile = join(dir, 'token.secret');
    writeFileSync(secretFile, 's3cr3t-value');
    const tag = 'wharf-test/everything:latest';
    await dockerBuild({ contextDir: dir, tag, args: ['--secret', `id=token,src=${secretFile}`] });

    const config = (await dockerInspectImage(tag)).Config;
    expect(config.Env).toEqual(
      expect.arrayContaining([
        'APP_HOME=/srv/app',
        'GREETING_COPY=hi there',
        'LITERAL=cost $5',
        `QUOTED=say "hello" 'twice'`,
        'SPACED=a b  c',
        'UNICODE=grüße ✓',
        'BACKSLASH=C:\\path\\to',
      ]),
    );
    // `\$` stays a literal dollar; `$GREETING` expands from the stage's ARG.
    expect(config.Labels).toEqual({
      'org.example.title': 'everything',
      'org.example.note': 'it\'s "quoted" & $literal, hi there',
    });
    expect(config.WorkingDir).toBe('/srv/app');
    expect(config.User).toBe('app');
    expect(Object.keys(config.ExposedPorts ?? {}).sort()).toEqual([
      '3000/tcp',
      '53/udp',
      '8000/tcp',
      '8001/tcp',
      '8002/tcp',
    ]);
    expect(config.Volumes).toEqual({ '/data': {}, '/srv/app/cache dir': {} });
    expect(config.Healthcheck).toEqual({
      Test: ['CMD', 'wget', '-qO-', 'http://127.0.0.1:3000/'],
      Interval: seconds(30),
      Timeout: seconds(3),
      StartPeriod: seconds(5),
      Retries: 3,
    });
    expect(config.StopSignal).toBe('SIGINT');
    expect(config.OnBuild).toEqual(['RUN echo onbuild']);
    expect(config.Shell).toEqual(['/bin/sh', '-e', '-c']);
    expect(config.Entrypoint).toEqual(['/bin/sh', '-c']);
    expect(config.Cmd).toEqual(['echo "$GREETING_COPY"']);

    // The default command runs through the entrypoint and sees the ENV.
    expect((await dockerRun({ image: tag })).trim()).toBe('hi there');

    const files = await dockerRun({
      image: tag,
      entrypoint: 'sh',
      cmd: [
        '-c',
        [
          'cat a.txt many/b.txt many/c.txt "with space.txt" tool.txt exec.txt greeting.txt secret-len.txt',
          'cat unpacked/pkg/inside.txt lines/1 lines/2 lines/long-1 lines/long-2 lines/long-3 lines/long-4 shell.txt',
          'stat -c "%u:%g %a" owned.txt',
          'cmp busybox-copy /bin/busybox && echo busybox-same',
          'test ! -e /scratch/not-kept && echo tmpfs-not-kept',
          'test ! -e /run/secrets/token && echo secret-not-kept',
        ].join(' && '),
      ],
    });
    expect(files.trim().split('\n')).toEqual([
      'file a',
      'file b',
      'file c',
      'spaced name',
      'built',
      'exec-form',
      'hi there',
      '12',
      'from the archive',
      'first',
      'second',
      'one',
      'two',
      'three',
      'a & b',
      'shell: /bin/sh',
      '1000:1000 640',
      'busybox-same',
      'tmpfs-not-kept',
      'secret-not-kept',
    ]);
  });

  it('shell-form CMD and ENTRYPOINT, HEALTHCHECK NONE, numeric USER', async () => {
    const dir = await compile(join(repoRoot, 'test/fixtures/everything'), 'build.ts', {
      target: 'shell-forms',
    });
    const tag = 'wharf-test/shell-forms:latest';
    await dockerBuild({ contextDir: dir, tag });
    const config = (await dockerInspectImage(tag)).Config;
    expect(config.Entrypoint).toEqual(['/bin/sh', '-c', 'exec echo entry']);
    expect(config.Cmd).toEqual(['/bin/sh', '-c', 'echo cmd']);
    expect(config.Healthcheck).toEqual({ Test: ['NONE'] });
    expect(config.User).toBe('1000:1000');
    expect((await dockerRun({ image: tag })).trim()).toBe('entry');
  });

  it('examples/hello: FROM scratch, files, metadata; the image prints its greeting', async () => {
    const dir = await compile(join(repoRoot, 'examples/hello'), 'build.ts');
    const tag = 'wharf-test/hello:latest';
    await dockerBuild({ contextDir: dir, tag });
    const image = await dockerInspectImage(tag);
    expect(image.Config).toMatchObject({
      // BuildKit gives a scratch stage the default PATH first; ENV PATH then replaces it in place.
      Env: ['PATH=/usr/local/bin', 'GREETING=Hello from wharf!'],
      Cmd: ['/usr/local/bin/hello'],
      User: '1000:1000',
      WorkingDir: '/app',
      ExposedPorts: { '8080/tcp': {} },
      Labels: {
        'org.opencontainers.image.title': 'hello',
        'org.opencontainers.image.description': 'The wharf hello example',
      },
    });
    expect(await dockerRun({ image: tag })).toBe('Hello from wharf!\n');
    // .dockerignore from the definition kept notes.local out of the context.
    const exported = await docker(['create', tag]);
    try {
      const { stdout: listing } = await run('sh', [
        '-c',
        `/usr/bin/docker export ${exported.trim()} | tar -t`,
      ]);
      expect(listing).toMatch(/app\/static\/index\.html/);
      expect(listing).not.toMatch(/notes\.local/);
    } finally {
      await docker(['rm', exported.trim()]);
    }
  });

  it('examples/node-app: the multi-stage Node pattern runs as node and reports healthy', async () => {
    const dir = await compile(join(repoRoot, 'examples/node-app'), 'build.ts', { contextDir: 'app' });
    const tag = 'wharf-test/node-app:latest';
    await dockerBuild({ contextDir: join(dir, 'app'), tag });
    const config = (await dockerInspectImage(tag)).Config;
    expect(config).toMatchObject({
      User: 'node',
      WorkingDir: '/app',
      Cmd: ['node', 'dist/server.js'],
      ExposedPorts: { '3000/tcp': {} },
    });
    expect(config.Healthcheck).toMatchObject({
      Test: ['CMD', 'wget', '-qO-', 'http://127.0.0.1:3000/health'],
    });
    const id = (await docker(['run', '-d', tag])).trim();
    try {
      let answer = '';
      for (let i = 0; i < 50 && answer !== 'ok'; i++) {
        answer = (
          await docker(['exec', id, 'wget', '-qO-', 'http://127.0.0.1:3000/health']).catch(() => '')
        ).trim();
        if (answer !== 'ok') await new Promise((r) => setTimeout(r, 200));
      }
      expect(answer).toBe('ok');
      expect((await docker(['exec', id, 'id', '-un'])).trim()).toBe('node');
      expect(await docker(['exec', id, 'wget', '-qO-', 'http://127.0.0.1:3000/'])).toMatch(
        /^hello from node-app on v20\./,
      );
    } finally {
      await docker(['rm', '-f', id]);
    }
  });
});
