// DSL → IR → Dockerfile, pinned by golden files in testdata/<case>.Dockerfile (UPDATE_GOLDEN=1 rewrites
// them). Each case is a small build definition exercising some instructions, flags and escaping.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { emitDockerfile } from '../dockerfile/emit/index.js';
import { type Definition, define, toGraph } from './graph.js';
import { bind, cache, secret, ssh, tmpfs } from './mounts.js';
import { type Stage, stage } from './stage.js';
import { context, image, sh } from './values.js';

const node = stage('build').from('node:20-alpine').workdir('/app');

const cases: Record<string, Stage | Definition> = {
  'from-variants': define({
    args: { ALPINE: '3.20', DIGEST: undefined },
    target: stage('app')
      .from(stage('base').from('alpine:${ALPINE}', { platform: '$BUILDPLATFORM' }).run('apk add curl'))
      .copy(stage().from(`busybox@sha256:${'a'.repeat(64)}`), '/bin/busybox', '/bin/busybox')
      .copy(stage().from('scratch').copy('x', '/x'), '/x', '/x'),
  }),
  'run-forms': stage('run')
    .from('debian:12')
    .run(
      'apt-get update && apt-get install -y --no-install-recommends ca-certificates curl && rm -rf /var/lib/apt/lists/*',
    )
    .run(['/bin/echo', 'exec form', 'with "quotes"'])
    .run(`
      mkdir -p /out
      echo one > /out/1
    `)
    .run(`
      for f in a b; do
        echo "$f" >> /out/list
      done
    `)
    .run('echo $HOME "$PATH" \\$literal', { network: 'none' })
    .run('make', { security: 'insecure' }),
  mounts: stage('mounts')
    .from('node:20')
    .run('npm ci', {
      mounts: [
        cache.npm({ sharing: 'locked' }),
        cache('/var/cache/apt', { id: 'apt', sharing: 'private', mode: '0755', uid: 0, gid: 0 }),
        bind('/src', { from: node, source: '/app', readwrite: true }),
        bind('/img', { from: image('alpine:3.20') }),
        secret('npmrc', { target: '/root/.npmrc', required: true, mode: '0400' }),
        secret('token', { env: 'TOKEN' }),
        ssh({ id: 'default', required: true }),
        tmpfs('/tmp', { size: 64 * 1024 * 1024 }),
      ],
    }),
  'copy-add': define({
    context: context('.').ignore(['node_modules', '.git', '!keep.md']),
    target: stage('files')
      .from('alpine')
      .workdir('/srv')
      .copy('a.txt', './')
      .copy(['b.txt', 'c.txt'], 'many/')
      .copy('with space.txt', '/dst dir/')
      .copy('src', 'src', { chown: 'node:node', chmod: '0755' })
      .copy('app', '/app', { link: true, exclude: ['*.md', 'test/'], parents: true })
      .copy(context('../shared', { name: 'shared' }), 'config/', '/etc/app/')
      .copy(image('nginx:1.27'), '/etc/nginx/nginx.conf', '/etc/nginx/')
      .add('https://example.com/tool.tgz', '/opt/', { checksum: `sha256:${'b'.repeat(64)}` })
      .add('https://github.com/moby/buildkit.git#v0.14.0', '/src/buildkit', { keepGitDir: true })
      .add('vendor.tar.gz', '/opt/vendor/', { chown: 1000 }),
  }),
  metadata: stage('meta')
    .from('alpine')
    .arg('VERSION', '1.0.0')
    .arg({ COMMIT: undefined })
    .env({
      APP_VERSION: '$VERSION',
      QUOTED: 'say "hi"',
      SPACED: 'a b',
      LITERAL: 'cost \\$5',
      EMPTY: '',
      UNICODE: 'grüße',
    })
    .label({ 'org.opencontainers.image.version': '${VERSION}', 'com.example.description': "it's here" })
    .workdir('/app dir')
    .expose(3000, '53/udp', '8000-8010/tcp')
    .volume('/data', '/var/lib/app data')
    .user('node', 'node')
    .stopsignal('SIGINT')
    .shell(['/bin/ash', '-eo', 'pipefail', '-c'])
    .onbuild((s) => s.copy('.', '/app').run('npm ci')),
  commands: define({
    targets: {
      exec: stage('exec')
        .from('alpine')
        .healthcheck(['wget', '-qO-', 'http://localhost:3000/health'], {
          interval: '30s',
          timeout: '3s',
          startPeriod: '10s',
          startInterval: '2s',
          retries: 3,
        })
        .entrypoint(['tini', '--'])
        .cmd(['node', 'server.js']),
    },
  }),
  'shell-commands': stage('shell')
    .from('alpine')
    .healthcheck(sh('curl -f http://localhost/ || exit 1'))
    .entrypoint(sh('exec "$0" "$@"'))
    .cmd(sh('echo "$HOME"')),
  'healthcheck-none': stage('quiet').from('alpine').healthcheck('none'),
};

describe('DSL → Dockerfile golden files', () => {
  for (const [name, value] of Object.entries(cases)) {
    it(name, () => {
      const { dockerfile, dockerignore } = emitDockerfile(toGraph(value));
      const file = new URL(`./testdata/${name}.Dockerfile`, import.meta.url);
      const text =
        dockerignore === undefined ? dockerfile : `${dockerfile}\n# ---- .dockerignore ----\n${dockerignore}`;
      if (process.env.UPDATE_GOLDEN || !existsSync(file)) writeFileSync(file, text);
      expect(text).toBe(readFileSync(file, 'utf8'));
    });
  }
});
