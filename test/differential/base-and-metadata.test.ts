// On a real base image (busybox, with /etc/passwd): COPY --chown by name, copies into existing
// directories, WORKDIR created as the USER, and every metadata instruction with ARG/ENV expansion —
// the direct backend's files and config match BuildKit's.
import { define, type Stage, sh, stage, toGraph } from '@wharf/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildBoth, busyboxLayout, trees } from '../helpers/differential.js';
import { noDocker } from '../helpers/env.js';

const files = {
  'app.conf': 'setting=1\n',
  'hosts.extra': '127.0.0.2 extra\n',
  'src/main.txt': 'main\n',
  'src/lib/util.txt': 'util\n',
};

describe.skipIf(noDocker())('on a base image, files and config match BuildKit', () => {
  let layoutRef = '';
  beforeAll(async () => {
    layoutRef = await busyboxLayout();
  });

  /** The same definition for both builders; the direct one reads busybox from a layout (--build-context). */
  async function compare(name: string, make: (base: string) => Stage, buildArgs?: Record<string, string>) {
    const results = await buildBoth({
      name,
      graph: toGraph(define({ target: make('busybox'), args: { BASE_TAG: 'latest' } })),
      buildContexts: { busybox: layoutRef },
      files,
      ...(buildArgs ? { buildArgs } : {}),
    });
    const { buildkit, direct } = trees(results);
    expect(direct).toEqual(buildkit);
    expect(results.direct.config).toEqual(results.buildkit.config);
    return results;
  }

  it('COPY --chown by name, into existing directories, over existing files; WORKDIR as USER', async () => {
    const results = await compare('base-copy', (base) =>
      stage('base-copy')
        .from(base)
        .copy('app.conf', '/etc/', { chown: 'app:app' })
        .copy('hosts.extra', '/etc/hosts.d/extra', { chown: 'app' })
        .copy('src', '/home/app/src', { chown: 'app:root' })
        .copy('app.conf', '/bin/sh-config')
        .user('app')
        .workdir('/srv/data/cache')
        .copy('src/main.txt', './')
        .user('root')
        .workdir('/tmp/scratch'),
    );
    expect(results.direct.tree.get('/etc/app.conf')).toMatchObject({ uid: 1000, gid: 1000 });
  });

  it('every metadata instruction, with ARG/ENV expansion and build args', async () => {
    await compare(
      'base-metadata',
      (base) =>
        stage('base-metadata')
          .from(base)
          .arg('VERSION', '1.0')
          .arg('FROM_CLI')
          .arg('BASE_TAG')
          .env({
            APP_HOME: '/srv/app',
            VERSION_COPY: '$VERSION',
            CLI: '${FROM_CLI:-none}',
            BASE: 'busybox:$BASE_TAG',
          })
          .env({ PATH: '$APP_HOME/bin:$PATH', LITERAL: 'a \\$b c' })
          .label({ version: '${VERSION}', 'com.example.home': '$APP_HOME', quoted: 'say "hi"' })
          .workdir('$APP_HOME')
          .workdir('sub')
          .expose(80, '53/udp', '9000-9002/tcp')
          .volume('/data', '$APP_HOME/cache')
          .user('app:app')
          .stopsignal('SIGQUIT')
          .healthcheck(['wget', '-qO-', 'http://127.0.0.1/'], {
            interval: '1m30s',
            timeout: '5s',
            startPeriod: '2s',
            retries: 4,
          })
          .shell(['/bin/sh', '-e', '-c'])
          .onbuild((s) => s.copy('.', '/app'))
          .cmd(sh('echo "$VERSION"'))
          .entrypoint(['/bin/sh', '-c']),
      { FROM_CLI: 'from-the-cli' },
    );
  });

  it('ENTRYPOINT clears the inherited CMD; CMD after it stays; HEALTHCHECK NONE', async () => {
    await compare('base-entrypoint', (base) =>
      stage('base-entrypoint').from(base).entrypoint(['/bin/echo']).healthcheck('none'),
    );
    await compare('base-entrypoint-cmd', (base) =>
      stage('base-entrypoint-cmd').from(base).cmd(['hi']).entrypoint(sh('exec echo')),
    );
  });

  it('FROM another stage keeps its files and config', async () => {
    await compare('base-multistage', (base) => {
      const first = stage('first').from(base).copy('src', '/src').env({ FIRST: '1' }).user('app');
      return stage('second').from(first).copy('app.conf', '/src/').workdir('/src/lib');
    });
  });
});
