// Converted from Dockerfile by `wharf convert`.

import { buildPlatform, define, image, stage } from '@wharf/core';

const buildEnv = stage('build-env')
  .from(`node:\${NODE_VERSION}-alpine`, { platform: buildPlatform })
  .workdir('/app')
  .copy(['package.json', 'package-lock.json'], './')
  // Install dependencies first so the layer stays cached
  .run('npm ci')
  .copy('.', '.')
  .run('npm run build');

const test = stage('test')
  .from(buildEnv)
  .run('npm test');

const final = stage()
  .from(`node:\${NODE_VERSION}-alpine`)
  .workdir('/app')
  .env({ NODE_ENV: 'production' })
  .copy(buildEnv, '/app/dist', './dist', { chown: 'node:node' })
  .copy(image('nginx:1.27'), '/etc/nginx/mime.types', '/etc/mime.types')
  .user('node')
  .expose(3000)
  .healthcheck(['wget', '-qO-', 'http://127.0.0.1:3000/health'], {
    interval: '30s',
    timeout: '3s',
    retries: 3,
  })
  .cmd(['node', 'dist/server.js']);

export default define({
  args: { NODE_VERSION: '20', REGISTRY: undefined },
  target: final,
  targets: { test },
  directives: { syntax: 'docker/dockerfile:1' },
});
