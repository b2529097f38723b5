// A monorepo's images from one build.ts: three services on one shared base stage that builds the
// workspace library once. `wharf bake` builds them in one run (the base once) and, with --push,
// uploads the shared layers once per registry and mounts them into the other repositories.
import { context, define, stage } from '@wharf/core';
import { workspaceContext } from '@wharf/core/bake';

const registry = process.env.REGISTRY ?? 'registry.example.com/monorepo';

// The shared base: the library and its build, reused by every service.
const base = stage('base')
  .from('node:20-alpine')
  .workdir('/repo')
  .copy(['package.json'], './')
  .copy('packages/greeting', './packages/greeting')
  .run('node packages/greeting/build.mjs');

// Each service copies its workspace context: its own package, the workspace packages its package.json
// depends on (the worker also uses packages/clock) and the root's package.json — nothing of the other
// services, so a change there neither invalidates this COPY nor, under --changed-since, this target.
const service = async (name: string) =>
  stage(name)
    .from(base)
    .copy(
      await workspaceContext({ root: 'repo', package: `services/${name}`, dir: import.meta.dirname }),
      '.',
      './',
    )
    .cmd(['node', `services/${name}/main.js`]);

export default define({
  context: context('repo'),
  targets: {
    api: { stage: await service('api'), tags: [`${registry}/api:dev`] },
    worker: { stage: await service('worker'), tags: [`${registry}/worker:dev`] },
    web: {
      stage: await service('web'),
      tags: [`${registry}/web:dev`],
      labels: { 'org.example.tier': 'frontend' },
    },
  },
  groups: { default: ['api', 'worker', 'web'], backend: ['api', 'worker'] },
});
