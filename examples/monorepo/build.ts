// A monorepo's images from one build.ts: three services on one shared base stage that builds the
// workspace library once. `wharf bake` builds them in one run (the base once) and, with --push,
// uploads the shared layers once per registry and mounts them into the other repositories.
import { context, define, stage } from '@wharf/core';

const registry = process.env.REGISTRY ?? 'registry.example.com/monorepo';

// The shared base: the library and its build, reused by every service.
const base = stage('base')
  .from('node:20-alpine')
  .workdir('/repo')
  .copy(['package.json'], './')
  .copy('packages', './packages')
  .run('node packages/greeting/build.mjs');

const service = (name: string) =>
  stage(name)
    .from(base)
    .copy(`services/${name}`, `./services/${name}`)
    .cmd(['node', `services/${name}/main.js`]);

export default define({
  context: context('repo'),
  targets: {
    api: { stage: service('api'), tags: [`${registry}/api:dev`] },
    worker: { stage: service('worker'), tags: [`${registry}/worker:dev`] },
    web: { stage: service('web'), tags: [`${registry}/web:dev`], labels: { 'org.example.tier': 'frontend' } },
  },
  groups: { default: ['api', 'worker', 'web'], backend: ['api', 'worker'] },
});
