// The multi-stage Node pattern: dependencies in their own cached layer, a build stage, and a slim
// runtime stage that runs as the non-root `node` user with a HEALTHCHECK and an exec-form CMD.
import { cache, context, define, stage } from '@wharf/core';

const node = 'node:20-alpine';

// Only what npm needs first: this layer (and `npm ci`) stays cached until dependencies change.
// (vendor/ holds a local package, so the example installs a real dependency offline.)
const manifests = ['package.json', 'package-lock.json', '.npmrc'];
const deps = stage('deps')
  .from(node)
  .workdir('/app')
  .copy(manifests, './')
  .copy('vendor', './vendor')
  .run('npm ci --omit=dev', { mounts: [cache.npm()] });

const build = stage('build')
  .from(node)
  .workdir('/app')
  .copy(manifests, './')
  .copy('vendor', './vendor')
  .run('npm ci', { mounts: [cache.npm()] })
  .copy('.', '.')
  .run('npm run build');

const runtime = stage('runtime')
  .from(node)
  .workdir('/app')
  .env({ NODE_ENV: 'production', PORT: '3000' })
  .copy(deps, '/app/node_modules', './node_modules', { chown: 'node:node' })
  .copy(build, '/app/dist', './dist', { chown: 'node:node' })
  .copy('package.json', './')
  .user('node')
  .expose(3000)
  .healthcheck(['wget', '-qO-', 'http://127.0.0.1:3000/health'], {
    interval: '30s',
    timeout: '3s',
    retries: 3,
  })
  .cmd(['node', 'dist/server.js']);

export default define({
  target: runtime,
  // The app lives in app/; build.ts and the workspace package.json stay out of the context.
  context: context('app').ignore(['node_modules', 'dist', '.git', '*.log']),
});
