// Benchmark (issue 19): the CI scenario for a remote build cache — a fresh machine every run, the
// cache in a loopback docker-registry — wharf `--cache-to/--cache-from type=registry` vs BuildKit's
// inline cache (`--build-arg BUILDKIT_INLINE_CACHE=1` + push, then `--cache-from REF`) in the same run.
//   pnpm -s build && node bench/remote-cache.mjs [--rounds 3] [--only copy-heavy|run-heavy]
//                                               [--before DIR] [--no-buildkit]
// Two builds:
//   copy-heavy: FROM node:20-alpine (from the loopback mirror), a generated node_modules (4000 files,
//               ~12 MB) and src copied in, then a RUN "build" that computes for about 2 s.
//   run-heavy:  FROM busybox, three RUN steps that compute for about 2 s each (shell loops) and write
//               an 8 MB layer; the first uses an npm-style cache mount (/root/.npm), which wharf
//               exports too (mounts=true).
// Each round, per build and tool: cold (wharf: fresh --cache-dir + --cache-to …,mode=max,mounts=true,compression=gzip,
// -o type=oci; BuildKit: `docker builder prune -af` + build with inline cache + push), then from-cache
// with nothing changed (wharf: fresh --cache-dir + --cache-from, -o type=oci; BuildKit:
// `docker builder prune -af`, the image removed, build with --cache-from). Whole processes, wall time
// and (wharf) CPU time, user + system from GNU time, steadier than wall time on a shared machine.
// `--before DIR` adds the same wharf rows for another checkout's CLI (DIR/packages/cli/dist/main.js),
// interleaved with this one's in every round (each CLI exports its own cache, then imports it);
// `--no-buildkit` leaves BuildKit out (an A/B of two wharfs on a loaded machine).
// Note: `docker builder prune -af` empties BuildKit's whole build cache on this machine, as the other
// side-by-side benchmarks here do; run it when no other BuildKit build needs that cache.
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  discard,
  docker,
  log,
  machine,
  s,
  settle,
  startRegistry,
  table,
  tempDir,
  WHARF,
  wharfTimed,
  writeSourceTree,
} from './lib.mjs';

const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    only: { type: 'string' },
    before: { type: 'string' },
    'no-buildkit': { type: 'boolean', default: false },
  },
});
/** The wharf CLIs compared: this checkout's, and `--before`'s. */
const CLIS = {
  wharf: WHARF,
  ...(flags.before ? { before: join(flags.before, 'packages/cli/dist/main.js') } : {}),
};
const ROUNDS = Number(flags.rounds);
const MIRROR = '127.0.0.1:5151';

const BUILDS = {
  'copy-heavy': {
    dockerfile: `FROM ${MIRROR}/library/node:20-alpine
WORKDIR /app
COPY package.json ./
COPY node_modules ./node_modules
COPY src ./src
RUN node -e "let x=0;const t=Date.now();while(Date.now()-t<2000)x++;require('fs').writeFileSync('dist.txt','built')"
CMD ["node", "src/index.js"]
`,
    context(dir) {
      writeFileSync(join(dir, 'package.json'), '{"name":"bench-app","version":"1.0.0"}\n');
      writeSourceTree(join(dir, 'node_modules'), 4000, 3000);
      mkdirSync(join(dir, 'src'));
      writeFileSync(join(dir, 'src', 'index.js'), 'console.log("hello")\n');
    },
  },
  'run-heavy': {
    dockerfile: `FROM ${MIRROR}/library/busybox
RUN --mount=type=cache,target=/root/.npm sh -c 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; head -c 4000000 /dev/zero | tr "\\0" a > /root/.npm/pkg; cp /root/.npm/pkg /deps'
RUN sh -c 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; head -c 8000000 /dev/zero | tr "\\0" b > /build.bin'
RUN sh -c 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; echo done > /final'
`,
    context() {},
  },
};

/** BuildKit 20.10 here fails a RUN now and then with "/bin/sh: no such file" (see test/security/mount-sources): once more. */
async function twice(what, fn) {
  try {
    return await fn();
  } catch (error) {
    log(
      `${what} failed (${
        String(error.message)
          .split('\n')
          .find((l) => /ERROR|failed/.test(l)) ?? ''
      }); once more`,
    );
    return fn();
  }
}

const median = (xs) => s([...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]);

async function wharfBuild(cli, dir, cacheArgs) {
  const cacheDir = tempDir('rc-wharf-cache');
  const out = join(tempDir('rc-wharf-out'), 'image');
  try {
    await settle();
    const result = await wharfTimed(
      [
        'build',
        '-f',
        join(dir, 'Dockerfile'),
        dir,
        '--lint',
        'off',
        '--cache-dir',
        cacheDir,
        '--registry-mirror',
        `http://${MIRROR}`,
        '-o',
        `type=oci,dest=${out}`,
        ...cacheArgs,
      ],
      {},
      cli,
    );
    if (/warning/i.test(result.stderr)) log(`wharf warned: ${result.stderr.slice(-400)}`);
    return {
      seconds: result.seconds,
      cpu: s(result.cpu),
      digest: result.stdout.trim(),
      load: loadavg()[0].toFixed(2),
    };
  } finally {
    discard(cacheDir);
    discard(join(out, '..'));
  }
}

async function buildkitCold(dir, ref) {
  await docker(['builder', 'prune', '-af']);
  await settle();
  const started = performance.now();
  await docker(['build', '-q', '--build-arg', 'BUILDKIT_INLINE_CACHE=1', '-t', ref, dir]);
  await docker(['push', '-q', ref]);
  return { seconds: (performance.now() - started) / 1000 };
}

async function buildkitFromCache(dir, ref, tag) {
  await docker(['rmi', '-f', ref, tag], { allowFail: true });
  await docker(['builder', 'prune', '-af']);
  await settle();
  const started = performance.now();
  const result = await docker(['build', '--progress', 'plain', '--cache-from', ref, '-t', tag, dir]);
  const seconds = (performance.now() - started) / 1000;
  // a RUN that executed prints its command's timing; an imported hit prints CACHED
  const cached = (result.stderr.match(/ CACHED$/gm) ?? []).length;
  return { seconds, cached };
}

async function main() {
  const registry = await startRegistry();
  const results = {};
  try {
    for (const [name, build] of Object.entries(BUILDS)) {
      if (flags.only && flags.only !== name) continue;
      const dir = tempDir(`rc-${name}`);
      writeFileSync(join(dir, 'Dockerfile'), build.dockerfile);
      build.context(dir);
      const runs = { buildkitCold: [], buildkitFrom: [], buildkitCached: [] };
      for (const name of Object.keys(CLIS)) Object.assign(runs, { [`${name}Cold`]: [], [`${name}From`]: [] });
      for (const name of Object.keys(CLIS))
        Object.assign(runs, { [`${name}ColdCpu`]: [], [`${name}FromCpu`]: [] });
      for (let round = 0; round < ROUNDS; round++) {
        // alternate which CLI goes first, so neither always meets the other's leftovers
        const order = Object.entries(CLIS);
        if (round % 2 === 1) order.reverse();
        for (const [tool, cli] of order) {
          const ref = `${registry.host}/bench/${name}:${tool}-cache-${round}`;
          log(`${name} round ${round + 1}/${ROUNDS}: ${tool} cold`);
          // compression=gzip: the cache's layers are then the oci output's own (a lazy hit's blob is used as is)
          const cold = await wharfBuild(cli, dir, [
            '--cache-to',
            `type=registry,ref=${ref},mode=max,mounts=true,compression=gzip`,
          ]);
          log(`${name} round ${round + 1}/${ROUNDS}: ${tool} from cache`);
          const from = await wharfBuild(cli, dir, ['--cache-from', `type=registry,ref=${ref}`]);
          if (from.digest !== cold.digest) throw new Error(`${tool} ${name}: from-cache digest differs`);
          log(
            `${name} ${tool}: cold ${cold.seconds.toFixed(2)} s (cpu ${cold.cpu}, load ${cold.load}), from cache ${from.seconds.toFixed(2)} s (cpu ${from.cpu}, load ${from.load})`,
          );
          runs[`${tool}Cold`].push(cold.seconds);
          runs[`${tool}From`].push(from.seconds);
          runs[`${tool}ColdCpu`].push(cold.cpu);
          runs[`${tool}FromCpu`].push(from.cpu);
        }
        if (flags['no-buildkit']) continue;
        const bkRef = `${registry.host}/bench/${name}:buildkit-inline-${round}`;
        log(`${name} round ${round + 1}/${ROUNDS}: BuildKit cold (inline cache + push)`);
        runs.buildkitCold.push((await twice('BuildKit cold', () => buildkitCold(dir, bkRef))).seconds);
        log(`${name} round ${round + 1}/${ROUNDS}: BuildKit from cache`);
        const bk = await twice('BuildKit from cache', () =>
          buildkitFromCache(dir, bkRef, `wharf-bench-rc-${name}:from`),
        );
        runs.buildkitFrom.push(bk.seconds);
        runs.buildkitCached.push(bk.cached);
        await docker(['rmi', '-f', bkRef, `wharf-bench-rc-${name}:from`], { allowFail: true });
      }
      discard(dir);
      const wharfOf = (tool) => ({
        [`${tool}Cold`]: median(runs[`${tool}Cold`]),
        [`${tool}FromCache`]: median(runs[`${tool}From`]),
        [`${tool}Ratio`]: s(median(runs[`${tool}From`]) / median(runs[`${tool}Cold`])),
        [`${tool}CpuCold`]: median(runs[`${tool}ColdCpu`]),
        [`${tool}CpuFromCache`]: median(runs[`${tool}FromCpu`]),
      });
      results[name] = {
        ...Object.assign({}, ...Object.keys(CLIS).map(wharfOf)),
        ...(flags['no-buildkit']
          ? {}
          : {
              buildkitCold: median(runs.buildkitCold),
              buildkitFromCache: median(runs.buildkitFrom),
              buildkitRatio: s(median(runs.buildkitFrom) / median(runs.buildkitCold)),
              buildkitCachedSteps: runs.buildkitCached,
            }),
        runs,
      };
      log(`${name}: ${JSON.stringify(results[name])}`);
    }
  } finally {
    await registry.stop();
  }
  table(
    Object.entries(results).flatMap(([build, r]) => [
      ...Object.keys(CLIS).map((tool) => ({
        build,
        tool,
        cold: r[`${tool}Cold`],
        'from cache': r[`${tool}FromCache`],
        ratio: r[`${tool}Ratio`],
        'cpu cold': r[`${tool}CpuCold`],
        'cpu from cache': r[`${tool}CpuFromCache`],
      })),
      ...(r.buildkitCold === undefined
        ? []
        : [
            {
              build,
              tool: 'BuildKit',
              cold: r.buildkitCold,
              'from cache': r.buildkitFromCache,
              ratio: r.buildkitRatio,
            },
          ]),
    ]),
  );
  console.log(JSON.stringify({ machine: machine(), loadavg: loadavg(), rounds: ROUNDS, results }, null, 2));
}

await main();
