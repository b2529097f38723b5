// Benchmark (issue 3 speed, issue 5 a and b): the COPY-heavy Node app — a context whose node_modules
// comes from `npm install` of real packages (≥ 20k files, ≥ 150 MB), copied into an image.
//   pnpm -s build && node bench/copy-heavy.mjs [--layout layered|single]
// The context is made once and kept in ~/.cache/wharf-bench/copy-heavy/ (the first run needs the npm
// registry); each run copies it to a temp dir. Three parts, each side by side in the same run:
//  1. issue 3: `FROM scratch` + `COPY . /app` to an OCI archive with a fresh --cache-dir: wall time
//     and peak RSS, next to `tar -c DIR | gzip -6` and `tar -c DIR | pigz -6 -p2` of the same dir.
//  2. issue 5 (a) cold: `FROM node:20-alpine` (from the loopback mirror) + the app, to an OCI archive
//     with a fresh --cache-dir, vs `docker builder prune -af` then `DOCKER_BUILDKIT=1 docker build` of
//     the Dockerfile `wharf dockerfile` emits plus `docker save` (BuildKit's export to a file).
//  3. issue 5 (b) warm: one file in src/ changed, both tools warm, same counting; then (issue 21)
//     wharf's one-file change with no output against BuildKit's build alone (into dockerd, no save).
//  wharf runs twice more, with its own cache, writing a docker-archive: the format docker save writes.
// --layout layered (default): package files, node_modules and src/ in their own COPY steps, as the
// README recommends; --layout single: one `COPY . .`, so a one-file change re-makes the whole layer.
// --runs N (default 1): part 1 runs N rounds (pigz, then wharf, alternating) and reports medians, as
// issue 21 asks (median of 5); --only issue3 skips parts 2 and 3 (no Docker needed); --cli FILE runs
// another checkout's CLI (its packages/cli/dist/main.js) for part 1, for before/after pairs;
// --warm-rounds N (default 1): part 3's one-file change pair (wharf with no output, then BuildKit's
// build alone) N times in all, one after the other, with the ratio of the medians.
// Requires root, dockerd with the mirror on 127.0.0.1:5151, Debian's docker, pigz and GNU time.
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  buildkitBuildAndSave,
  COPY_HEAVY_CONTEXT,
  coldPair,
  discard,
  docker,
  log,
  MIRROR,
  machine,
  mibOf,
  printDetails,
  run,
  s,
  settle,
  sideBySideJson,
  sideBySideRow,
  table,
  tempDir,
  WHARF,
} from './lib.mjs';

const { values } = parseArgs({
  options: {
    layout: { type: 'string', default: 'layered' },
    runs: { type: 'string', default: '1' },
    'warm-rounds': { type: 'string', default: '1' },
    only: { type: 'string' },
    cli: { type: 'string' },
  },
});
if (!['layered', 'single'].includes(values.layout)) throw new Error('--layout is layered or single');
if (values.only !== undefined && values.only !== 'issue3') throw new Error('--only takes issue3');
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs is a whole number >= 1');
const warmRounds = Number(values['warm-rounds']);
if (!Number.isInteger(warmRounds) || warmRounds < 1) throw new Error('--warm-rounds is a whole number >= 1');
const median = (xs) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

// Exact versions, so every machine copies the same tree (npm resolves the rest through the lock file).
const DEPENDENCIES = {
  '@babel/core': '7.29.16',
  '@babel/preset-env': '7.29.14',
  '@emotion/react': '11.14.0',
  '@emotion/styled': '11.14.1',
  '@mui/material': '9.5.0',
  'date-fns': '4.4.0',
  eslint: '10.15.0',
  express: '5.3.0',
  jest: '30.5.2',
  lodash: '4.18.1',
  prettier: '3.10.1',
  react: '19.3.1',
  'react-dom': '19.3.1',
  rxjs: '7.8.2',
  typescript: '7.0.2',
  webpack: '5.113.0',
  'webpack-cli': '7.3.1',
};

/** The app's own files: a small express server and a few modules, as a real app's src/ would be. */
function writeAppSources(dir) {
  mkdirSync(join(dir, 'src/routes'), { recursive: true });
  writeFileSync(
    join(dir, 'src/server.js'),
    `const express = require('express');\nconst app = express();\napp.get('/health', (_req, res) => res.send('ok'));\nfor (const r of require('./routes')) app.use(r.path, r.router);\napp.listen(process.env.PORT || 3000);\n`,
  );
  const names = [];
  for (let i = 0; i < 40; i++) {
    const name = `r${String(i).padStart(2, '0')}`;
    names.push(name);
    writeFileSync(
      join(dir, `src/routes/${name}.js`),
      `const { Router } = require('express');\nconst router = Router();\nrouter.get('/', (_req, res) => res.json({ route: ${i} }));\nmodule.exports = { path: '/${name}', router };\n`,
    );
  }
  writeFileSync(
    join(dir, 'src/routes/index.js'),
    `module.exports = [${names.map((n) => `require('./${n}')`).join(', ')}];\n`,
  );
}

/** The context, made once: package.json, `npm install` (network), lock file, node_modules, src/. */
async function ensureContext() {
  const dir = COPY_HEAVY_CONTEXT;
  if (existsSync(join(dir, '.complete'))) return dir;
  log(`making the context in ${dir} (npm install of ${Object.keys(DEPENDENCIES).length} packages)…`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    `${JSON.stringify({ name: 'copy-heavy-app', version: '1.0.0', private: true, main: 'src/server.js', dependencies: DEPENDENCIES }, null, 2)}\n`,
  );
  await run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir });
  writeAppSources(dir);
  writeFileSync(join(dir, '.complete'), '');
  return dir;
}

/** Files (not directories) and apparent bytes under `dir`. */
function treeSize(dir) {
  let files = 0;
  let bytes = 0;
  const walk = (d) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.isFile()) {
        files++;
        bytes += statSync(p).size;
      } else files++;
    }
  };
  walk(dir);
  return { files, mb: s(bytes / 1e6) };
}

const BUILD_TS = {
  scratch: `import { context, define, stage } from '@wharf/core';
const target = stage('app').from('scratch').workdir('/app').copy('.', '.');
export default define({ target, context: context('app') });
`,
  layered: `import { context, define, stage } from '@wharf/core';
const target = stage('app').from('node:20-alpine').workdir('/app')
  .copy(['package.json', 'package-lock.json'], './')
  .copy('node_modules', './node_modules')
  .copy('src', './src')
  .env({ NODE_ENV: 'production' }).user('node').expose(3000).cmd(['node', 'src/server.js']);
export default define({ target, context: context('app') });
`,
  single: `import { context, define, stage } from '@wharf/core';
const target = stage('app').from('node:20-alpine').workdir('/app').copy('.', '.')
  .env({ NODE_ENV: 'production' }).user('node').expose(3000).cmd(['node', 'src/server.js']);
export default define({ target, context: context('app') });
`,
};

/** wharf build through GNU time: wall seconds and peak RSS (MiB) of the whole CLI process. */
async function wharfTimed(args, cwd, cli = WHARF) {
  const result = await run(
    '/usr/bin/time',
    ['-f', 'WHARF_BENCH_RSS_KIB %M %U %S', process.execPath, cli, ...args],
    {
      cwd,
    },
  );
  const [, kib, user, sys] = /WHARF_BENCH_RSS_KIB (\d+) ([\d.]+) ([\d.]+)/.exec(result.stderr) ?? [];
  return { ...result, rssMiB: s(Number(kib) / 1024), cpuSeconds: s(Number(user) + Number(sys)) };
}

const shell = (script) => run('bash', ['-o', 'pipefail', '-c', script]);

const work = tempDir('copy-heavy');
const tag = `wharf-bench/copy-heavy:${process.pid}`;
const cleanup = async () => {
  await docker(['rmi', '-f', tag], { allowFail: true });
  await run('rm', ['-rf', work]);
};
process.on('SIGINT', () => cleanup().then(() => process.exit(130)));

try {
  const cached = await ensureContext();
  const app = join(work, 'app');
  await run('cp', ['-a', cached, app]);
  await run('rm', ['-f', join(app, '.complete')]);
  const size = treeSize(app);
  log(`context: ${size.files} files, ${size.mb} MB (layout ${values.layout})`);
  for (const [name, text] of Object.entries(BUILD_TS)) writeFileSync(join(work, `${name}.ts`), text);
  // The build definitions sit beside the context (work/app); both tools get the same context directory.
  const definition = join(work, `${values.layout}.ts`);
  await run(process.execPath, [WHARF, 'dockerfile', definition, '-o', join(work, 'Dockerfile')]);

  // 1. issue 3: one big layer to an OCI archive, against tar | gzip and tar | pigz of the same dir.
  await settle();
  const gzipRun = await shell(`tar -c -C ${app} . | gzip -6 > ${work}/gzip.tgz`);
  const scratchOut = join(work, 'scratch.oci.tar');
  const rounds = [];
  for (let round = 0; round < runs; round++) {
    await settle();
    const pigz = await shell(`tar -c -C ${app} . | pigz -6 -p2 > ${work}/pigz.tgz`);
    await settle();
    for (const old of [join(work, 'cache-scratch'), scratchOut]) discard(old);
    const wharfRun = await wharfTimed(
      [
        'build',
        join(work, 'scratch.ts'),
        '--cache-dir',
        join(work, 'cache-scratch'),
        '-o',
        `type=oci-archive,dest=${scratchOut}`,
        '--progress',
        'json',
      ],
      undefined,
      values.cli,
    );
    rounds.push({ pigz, wharf: wharfRun });
    log(
      `issue 3 round ${round + 1}/${runs}: pigz ${s(pigz.seconds)} s, wharf ${s(wharfRun.seconds)} s ` +
        `(${s(wharfRun.seconds / pigz.seconds)}x), CPU ${wharfRun.cpuSeconds} s, peak RSS ${wharfRun.rssMiB} MiB`,
    );
  }
  const pigzRun = { seconds: median(rounds.map((r) => r.pigz.seconds)) };
  const scratch = {
    ...rounds[rounds.length - 1].wharf,
    seconds: median(rounds.map((r) => r.wharf.seconds)),
    rssMiB: median(rounds.map((r) => r.wharf.rssMiB)),
    cpuSeconds: median(rounds.map((r) => r.wharf.cpuSeconds)),
  };
  const issue3 = {
    runs,
    gzip: s(gzipRun.seconds),
    pigz: s(pigzRun.seconds),
    wharf: s(scratch.seconds),
    wharfCpu: s(scratch.cpuSeconds),
    wharfPeakRssMiB: scratch.rssMiB,
    wharfPeakRssMaxMiB: Math.max(...rounds.map((r) => r.wharf.rssMiB)),
    vsPigz: s(median(rounds.map((r) => r.wharf.seconds / r.pigz.seconds))),
    rounds: rounds.map((r) => ({
      pigz: s(r.pigz.seconds),
      wharf: s(r.wharf.seconds),
      rssMiB: r.wharf.rssMiB,
    })),
    ociArchiveMiB: mibOf(scratchOut),
    pigzMiB: mibOf(join(work, 'pigz.tgz')),
  };
  if (values.only === 'issue3') {
    console.log(`\nissue 3: ${size.files} files, ${size.mb} MB, FROM scratch + COPY . . to an OCI archive`);
    table([
      { tool: 'tar | gzip -6', seconds: gzipRun.seconds },
      { tool: `tar | pigz -6 -p2 (median of ${runs})`, seconds: pigzRun.seconds },
      {
        tool: `wharf build -o type=oci-archive (median of ${runs})`,
        seconds: scratch.seconds,
        peakRssMiB: scratch.rssMiB,
        vsPigz: issue3.vsPigz,
        target: '<= 1.3x pigz, < 150 MiB',
      },
    ]);
    console.log(
      JSON.stringify({
        bench: 'copy-heavy',
        date: new Date().toISOString(),
        machine: machine(),
        loadavg: loadavg().map(s),
        context: size,
        issue3,
      }),
    );
  } else {
    // 2 and 3. issue 5 (a) cold and (b) warm, against BuildKit build + save.
    // wharf twice, each with its own cache: an OCI archive (gzip layers, what a registry holds) and a
    // docker-archive (uncompressed, the format docker save writes).
    const wharfOut = join(work, 'wharf.oci.tar');
    const wharfDockerOut = join(work, 'wharf.docker.tar');
    const dockerOut = join(work, 'buildkit.tar');
    const wharfBuildTo = (output, cacheDir) => () =>
      wharfTimed([
        'build',
        definition,
        '--cache-dir',
        cacheDir,
        '--registry-mirror',
        MIRROR,
        '-o',
        output,
        '-t',
        tag,
        '--progress',
        'json',
      ]);
    const wharfBuild = wharfBuildTo(`type=oci-archive,dest=${wharfOut}`, join(work, 'wharf-cache'));
    const wharfBuildDocker = wharfBuildTo(
      `type=docker-archive,dest=${wharfDockerOut}`,
      join(work, 'wharf-cache-2'),
    );
    const buildkit = buildkitBuildAndSave({
      tag,
      dockerfile: join(work, 'Dockerfile'),
      context: app,
      out: dockerOut,
    });

    // one source file changed: `text` (a comment) and the time make each change new
    const changeSource = (text) =>
      writeFileSync(
        join(app, 'src/routes/r07.js'),
        `${text}${Date.now()}\nmodule.exports = require('./r06');\n`,
      );
    // issue 21's figure: a one-file change built with no output, as BuildKit builds into dockerd
    const wharfNoOutput = () =>
      wharfTimed([
        'build',
        definition,
        '--cache-dir',
        join(work, 'wharf-cache'),
        '--registry-mirror',
        MIRROR,
        '--progress',
        'json',
      ]);

    const { wCold, dCold } = await coldPair(wharfBuild, buildkit, tag); // (a)
    log('wharf cold build to a docker-archive…');
    await settle();
    const wColdDocker = await wharfBuildDocker();

    changeSource('// changed\n');
    log('wharf warm rebuild (one file in src/ changed)…');
    await settle();
    const wWarm = await wharfBuild();
    await settle();
    const wWarmDocker = await wharfBuildDocker();
    changeSource('// changed again\n');
    await settle();
    const wWarmNoOutput = await wharfNoOutput();
    log('BuildKit warm rebuild…');
    await settle();
    const dWarm = await buildkit();
    // issue 21's figure again, --warm-rounds in all: a one-file change each, wharf (no output) then
    // BuildKit's build alone, one after the other; the ratio of the medians (this machine is noisy)
    const pairs = [{ wharf: wWarmNoOutput.seconds, buildkit: dWarm.build }];
    for (let round = 1; round < warmRounds; round++) {
      log(`one-file change round ${round + 1}/${warmRounds}…`);
      changeSource(`// round ${round} (wharf)\n`);
      await settle();
      const w = await wharfNoOutput();
      changeSource(`// round ${round} (BuildKit)\n`);
      await settle();
      const d = await docker(['build', '-q', '-t', tag, '-f', join(work, 'Dockerfile'), app]);
      pairs.push({ wharf: w.seconds, buildkit: d.seconds });
    }

    console.log(`\nissue 3: ${size.files} files, ${size.mb} MB, FROM scratch + COPY . . to an OCI archive`);
    table([
      { tool: 'tar | gzip -6', seconds: gzipRun.seconds },
      { tool: 'tar | pigz -6 -p2', seconds: pigzRun.seconds },
      {
        tool: 'wharf build -o type=oci-archive',
        seconds: scratch.seconds,
        peakRssMiB: scratch.rssMiB,
        vsPigz: issue3.vsPigz,
        target: '<= 1.3x pigz, < 150 MiB',
      },
    ]);
    console.log(
      `\nissue 5: FROM node:20-alpine, layout ${values.layout}; wharf writes an OCI archive (or a docker-archive)`,
    );
    table([
      sideBySideRow('(a) cold', wCold, dCold, '>= 3x'),
      sideBySideRow('(a) cold, wharf docker-archive', wColdDocker, dCold, '>= 3x'),
      sideBySideRow('(b) warm, 1 file changed', wWarm, dWarm, '>= 2x'),
      sideBySideRow('(b) warm, wharf docker-archive', wWarmDocker, dWarm, '>= 2x'),
    ]);
    console.log("\nissue 21: the one-file change against BuildKit's build into dockerd (no export)");
    const vsBuild = (phase, w) => ({
      phase,
      wharf: w.seconds,
      buildkitBuild: dWarm.build,
      ratio: w.seconds / dWarm.build,
      target: '<= 0.5x',
    });
    const medianPair = {
      phase: `warm, wharf no output, median of ${pairs.length}`,
      wharf: median(pairs.map((p) => p.wharf)),
      buildkitBuild: median(pairs.map((p) => p.buildkit)),
      target: '<= 0.5x',
    };
    medianPair.ratio = medianPair.wharf / medianPair.buildkitBuild;
    table([
      vsBuild('warm, wharf no output', wWarmNoOutput),
      vsBuild('warm, wharf -o type=oci-archive', wWarm),
      ...(pairs.length > 1 ? [medianPair] : []),
    ]);
    printDetails({
      wharfOut,
      dockerOut,
      inProc: { peakRssMiB: { scratch: scratch.rssMiB, cold: wCold.rssMiB, warm: wWarm.rssMiB } },
      runs: [
        ['scratch', scratch, 3],
        ['cold', wCold, 4],
        ['warm', wWarm, 4],
      ],
    });
    console.log(
      JSON.stringify({
        bench: 'copy-heavy',
        date: new Date().toISOString(),
        machine: machine(),
        layout: values.layout,
        context: size,
        loadavg: loadavg().map(s),
        issue3,
        cold: sideBySideJson(wCold, dCold),
        warm: sideBySideJson(wWarm, dWarm),
        warmNoOutputVsBuild: {
          wharf: s(wWarmNoOutput.seconds),
          buildkitBuild: s(dWarm.build),
          ratio: s(wWarmNoOutput.seconds / dWarm.build),
          rounds: pairs.map((p) => ({ wharf: s(p.wharf), buildkitBuild: s(p.buildkit) })),
          medianRatio: s(medianPair.ratio),
        },
        dockerArchive: { cold: sideBySideJson(wColdDocker, dCold), warm: sideBySideJson(wWarmDocker, dWarm) },
        archiveMiB: { wharf: mibOf(wharfOut), buildkit: mibOf(dockerOut) },
      }),
    );
  }
} finally {
  await cleanup();
}
