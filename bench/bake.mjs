// Benchmark (issue 18): examples/monorepo's three images built and pushed, `wharf bake --push` (one
// process: the shared base stage once, shared blobs uploaded once and mounted) vs three sequential
// `DOCKER_BUILDKIT=1 docker build` + `docker push` of the Dockerfiles `wharf dockerfile --target` emits,
// in the same run, to a fresh loopback `docker-registry` each.
//   pnpm -s build && node bench/bake.mjs
// Phases: (a) cold: wharf with a fresh --cache-dir; BuildKit after `docker builder prune -af`.
//         (b) one-file change in services/web, both warm.
// Base node:20-alpine comes from the loopback mirror (127.0.0.1:5151). Prints a table and one JSON line.
import { cpSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  docker,
  log,
  MIRROR,
  machine,
  ROOT,
  s,
  settle,
  startRegistry,
  table,
  tempDir,
  wharf,
} from './lib.mjs';

const TARGETS = ['api', 'worker', 'web'];
const work = tempDir('bake');
const registry = await startRegistry();
const cleanup = async () => {
  for (const name of TARGETS)
    await docker(['rmi', '-f', `${registry.host}/d/${name}:dev`], { allowFail: true });
  await registry.stop();
  rmSync(work, { recursive: true, force: true });
};
process.on('SIGINT', () => cleanup().then(() => process.exit(130)));

try {
  const proj = join(work, 'monorepo');
  cpSync(join(ROOT, 'examples/monorepo'), proj, {
    recursive: true,
    filter: (src) => !src.includes('node_modules'),
  });
  for (const name of TARGETS) {
    await wharf([
      'dockerfile',
      join(proj, 'build.ts'),
      '--target',
      name,
      '-o',
      join(proj, 'repo', `Dockerfile.${name}`),
    ]);
  }
  const cacheDir = join(work, 'cache');
  const bake = () =>
    wharf(
      [
        'bake',
        join(proj, 'build.ts'),
        '--push',
        '--progress',
        'plain',
        '--cache-dir',
        cacheDir,
        '--registry-mirror',
        MIRROR,
      ],
      { env: { REGISTRY: `${registry.host}/w` } },
    );
  const buildkit = async () => {
    let seconds = 0;
    for (const name of TARGETS) {
      const ref = `${registry.host}/d/${name}:dev`;
      seconds += (
        await docker([
          'build',
          '-q',
          '-t',
          ref,
          '-f',
          join(proj, 'repo', `Dockerfile.${name}`),
          join(proj, 'repo'),
        ])
      ).seconds;
      seconds += (await docker(['push', ref])).seconds;
    }
    return seconds;
  };
  const pushLine = (run) => /pushed: .*$/m.exec(run.stderr)?.[0] ?? '';

  log('wharf bake --push, cold…');
  await settle();
  const wCold = await bake();
  log('BuildKit: 3 × docker build + docker push, cold (after docker builder prune -af)…');
  for (const name of TARGETS)
    await docker(['rmi', '-f', `${registry.host}/d/${name}:dev`], { allowFail: true });
  await docker(['builder', 'prune', '-af']);
  await settle();
  const dCold = await buildkit();

  writeFileSync(
    join(proj, 'repo/services/web/main.js'),
    "import { greeting } from '../../packages/greeting/dist/index.js';\n\nconsole.log(greeting('web'), '(changed)');\n",
  );
  log('one-file change in services/web: wharf bake --push…');
  await settle();
  const wWarm = await bake();
  log('one-file change: BuildKit…');
  await settle();
  const dWarm = await buildkit();

  table([
    { phase: 'cold', wharf: s(wCold.seconds), buildkit: s(dCold), ratio: s(wCold.seconds / dCold) },
    {
      phase: 'one-file change',
      wharf: s(wWarm.seconds),
      buildkit: s(dWarm),
      ratio: s(wWarm.seconds / dWarm),
    },
  ]);
  log(`cold ${pushLine(wCold)}`);
  log(`change ${pushLine(wWarm)}`);
  console.log(
    JSON.stringify({
      bench: 'bake',
      machine: machine(),
      cold: { wharf: s(wCold.seconds), buildkit: s(dCold), push: pushLine(wCold) },
      change: { wharf: s(wWarm.seconds), buildkit: s(dWarm), push: pushLine(wWarm) },
    }),
  );
} finally {
  await cleanup();
}
