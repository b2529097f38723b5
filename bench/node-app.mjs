// Benchmark: the RUN-based Node build (examples/node-app: npm ci and npm run build in containers,
// three stages), side by side with BuildKit in the same run. Issue 5's (a) and (b) name the COPY-heavy
// Node app of issue 3, which bench/copy-heavy.mjs builds; this one was measured for them before.
//   pnpm -s build && node bench/node-app.mjs [--files 3000] [--kib 13]
// Workload: examples/node-app copied to a temp dir plus N generated JS files (~40 MB) under app/src/,
// so `COPY . .`, `RUN npm run build` (copies src/ to dist/) and `COPY --from=build dist` each move
// the whole tree. Base node:20-alpine comes from the loopback mirror (127.0.0.1:5151).
//  (a) cold: wharf with a fresh --cache-dir, writing a docker-archive, vs
//      `docker builder prune -af` then `DOCKER_BUILDKIT=1 docker build` of the Dockerfile that
//      `wharf dockerfile` emits, plus `docker save` to a file (wharf writes a file too).
//  (b) warm: one file in app/src changed, both tools warm (same counting).
//  (c) no-change rebuild with wharf: the whole CLI process, and buildGraph alone in-process.
// Prints a table and one JSON line. Requires root (runc), dockerd with the mirror, Debian's docker.
import { appendFileSync, cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  buildkitBuildAndSave,
  coldPair,
  docker,
  inProcessRebuild,
  log,
  MIRROR,
  machine,
  mibOf,
  printDetails,
  ROOT,
  s,
  settle,
  sideBySideJson,
  sideBySideRow,
  table,
  tempDir,
  wharf,
  writeSourceTree,
} from './lib.mjs';

const { values } = parseArgs({
  options: { files: { type: 'string', default: '3000' }, kib: { type: 'string', default: '13' } },
});
const files = Number(values.files);
const bytesEach = Number(values.kib) * 1024;

const work = tempDir('node-app');
const tag = `wharf-bench/node-app:${process.pid}`;
const cleanup = async () => {
  await docker(['rmi', '-f', tag], { allowFail: true });
  rmSync(work, { recursive: true, force: true });
};
process.on('SIGINT', () => cleanup().then(() => process.exit(130)));

try {
  const proj = join(work, 'node-app');
  cpSync(join(ROOT, 'examples/node-app/app'), join(proj, 'app'), { recursive: true });
  cpSync(join(ROOT, 'examples/node-app/build.ts'), join(proj, 'build.ts'));
  writeSourceTree(join(proj, 'app/src/gen'), files, bytesEach);
  const changed = join(proj, 'app/src/gen/m00/f0000.js');
  log(`generated ${files} files of ~${values.kib} KiB under ${proj}/app/src/gen`);

  // The Dockerfile goes inside the context (app/) so its .dockerignore applies; it is there for both tools.
  await wharf(['dockerfile', join(proj, 'build.ts'), '-o', join(proj, 'app/Dockerfile')]);

  const cacheDir = join(work, 'wharf-cache');
  const wharfOut = join(work, 'wharf.tar');
  const dockerOut = join(work, 'buildkit.tar');
  const wharfBuild = () =>
    wharf(
      [
        'build',
        join(proj, 'build.ts'),
        '--cache-dir',
        cacheDir,
        '--registry-mirror',
        MIRROR,
        '-o',
        `type=docker-archive,dest=${wharfOut}`,
        '-t',
        tag,
        '--progress',
        'json',
      ],
      { cwd: proj },
    );
  const buildkit = buildkitBuildAndSave({
    tag,
    dockerfile: join(proj, 'app/Dockerfile'),
    context: join(proj, 'app'),
    out: dockerOut,
  });

  const { wCold, dCold } = await coldPair(wharfBuild, buildkit, tag); // (a)

  // (b) warm, one file changed
  appendFileSync(changed, `export const changed = ${Date.now()};\n`);
  log('wharf warm rebuild (one file changed)…');
  await settle();
  const wWarm = await wharfBuild();
  log('BuildKit warm rebuild (one file changed)…');
  await settle();
  const dWarm = await buildkit();

  // (c) no change
  log('wharf no-change rebuild (CLI process)…');
  await settle();
  const wNoop = await wharfBuild();
  const wNoopNoOut = await wharf(
    [
      'build',
      join(proj, 'build.ts'),
      '--cache-dir',
      cacheDir,
      '--registry-mirror',
      MIRROR,
      '--progress',
      'quiet',
    ],
    { cwd: proj },
  );
  log('wharf no-change rebuild (in-process)…');
  const inProc = await inProcessRebuild({
    definition: join(proj, 'build.ts'),
    cacheDir,
    mirror: MIRROR,
    out: join(work, 'inproc.tar'),
  });
  log('BuildKit no-change rebuild…');
  await settle();
  const dNoop = await buildkit();

  table([
    sideBySideRow('(a) cold', wCold, dCold, '>= 3x'),
    sideBySideRow('(b) warm, 1 file changed', wWarm, dWarm, '>= 2x'),
    sideBySideRow('(c) no change, CLI + archive', wNoop, dNoop, '< 0.3 s'),
    { phase: '(c) no change, CLI, no -o', wharf: wNoopNoOut.seconds },
    { phase: '(c) no change, buildGraph only', wharf: inProc.buildSecond },
  ]);
  printDetails({
    wharfOut,
    dockerOut,
    inProc,
    runs: [
      ['cold', wCold, 6],
      ['warm', wWarm, 4],
    ],
  });
  console.log(
    JSON.stringify({
      bench: 'node-app',
      date: new Date().toISOString(),
      machine: machine(),
      files,
      kib: Number(values.kib),
      cold: sideBySideJson(wCold, dCold),
      warm: sideBySideJson(wWarm, dWarm),
      noChange: {
        wharfCli: s(wNoop.seconds),
        wharfCliNoOutput: s(wNoopNoOut.seconds),
        wharfBuildGraph: inProc.buildSecond,
        wharfBuildGraphFirstInProcess: inProc.buildFirst,
        buildkit: s(dNoop.total),
      },
      archiveMiB: { wharf: mibOf(wharfOut), buildkit: mibOf(dockerOut) },
    }),
  );
} finally {
  await cleanup();
}
