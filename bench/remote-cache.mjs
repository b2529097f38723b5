// Benchmark (issue 19): the CI scenario for a remote build cache — a fresh machine every run, the
// cache in a loopback docker-registry — wharf `--cache-to/--cache-from type=registry` vs BuildKit's
// inline cache (`--build-arg BUILDKIT_INLINE_CACHE=1` + push, then `--cache-from REF`) in the same run.
//   pnpm -s build && node bench/remote-cache.mjs [--rounds 3] [--only copy-heavy|run-heavy]
// Two builds:
//   copy-heavy: FROM node:20-alpine (from the loopback mirror), a generated node_modules (4000 files,
//               ~12 MB) and src copied in, then a RUN "build" that computes for about 2 s.
//   run-heavy:  FROM busybox, three RUN steps that compute for about 2 s each (shell loops) and write
//               an 8 MB layer; the first uses an npm-style cache mount (/root/.npm), which wharf
//               exports too (mounts=true).
// Each round, per build and tool: cold (wharf: fresh --cache-dir + --cache-to …,mode=max,mounts=true,compression=gzip,
// -o type=oci; BuildKit: `docker builder prune -af` + build with inline cache + push), then from-cache
// with nothing changed (wharf: fresh --cache-dir + --cache-from, -o type=oci; BuildKit:
// `docker builder prune -af`, the image removed, build with --cache-from). Whole processes, wall time.
// Note: `docker builder prune -af` empties BuildKit's whole build cache on this machine, as the other
// side-by-side benchmarks here do; run it when no other BuildKit build needs that cache.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  docker,
  log,
  machine,
  s,
  settle,
  startRegistry,
  table,
  tempDir,
  wharf,
  writeSourceTree,
} from './lib.mjs';

const { values: flags } = parseArgs({
  options: { rounds: { type: 'string', default: '3' }, only: { type: 'string' } },
});
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

async function wharfBuild(dir, cacheArgs) {
  const cacheDir = tempDir('rc-wharf-cache');
  const out = join(tempDir('rc-wharf-out'), 'image');
  try {
    await settle();
    const result = await wharf(
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
    );
    if (/warning/i.test(result.stderr)) log(`wharf warned: ${result.stderr.slice(-400)}`);
    return { seconds: result.seconds, digest: result.stdout.trim() };
  } finally {
    rmSync(cacheDir, { recursive: true, force: true });
    rmSync(join(out, '..'), { recursive: true, force: true });
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
      const runs = { wharfCold: [], wharfFrom: [], buildkitCold: [], buildkitFrom: [], buildkitCached: [] };
      for (let round = 0; round < ROUNDS; round++) {
        const ref = `${registry.host}/bench/${name}:wharf-cache-${round}`;
        log(`${name} round ${round + 1}/${ROUNDS}: wharf cold`);
        // compression=gzip: the cache's layers are then the oci output's own (a lazy hit's blob is used as is)
        const cold = await wharfBuild(dir, [
          '--cache-to',
          `type=registry,ref=${ref},mode=max,mounts=true,compression=gzip`,
        ]);
        log(`${name} round ${round + 1}/${ROUNDS}: wharf from cache`);
        const from = await wharfBuild(dir, ['--cache-from', `type=registry,ref=${ref}`]);
        if (from.digest !== cold.digest) throw new Error(`wharf ${name}: from-cache digest differs`);
        runs.wharfCold.push(cold.seconds);
        runs.wharfFrom.push(from.seconds);
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
      rmSync(dir, { recursive: true, force: true });
      results[name] = {
        wharfCold: median(runs.wharfCold),
        wharfFromCache: median(runs.wharfFrom),
        wharfRatio: s(median(runs.wharfFrom) / median(runs.wharfCold)),
        buildkitCold: median(runs.buildkitCold),
        buildkitFromCache: median(runs.buildkitFrom),
        buildkitRatio: s(median(runs.buildkitFrom) / median(runs.buildkitCold)),
        buildkitCachedSteps: runs.buildkitCached,
        runs,
      };
      log(`${name}: ${JSON.stringify(results[name])}`);
    }
  } finally {
    await registry.stop();
  }
  table(
    Object.entries(results).map(([build, r]) => ({
      build,
      'wharf cold': r.wharfCold,
      'wharf from cache': r.wharfFromCache,
      'wharf ratio': r.wharfRatio,
      'BuildKit cold': r.buildkitCold,
      'BuildKit from cache': r.buildkitFromCache,
      'BuildKit ratio': r.buildkitRatio,
    })),
  );
  console.log(JSON.stringify({ machine: machine(), loadavg: loadavg(), rounds: ROUNDS, results }, null, 2));
}

await main();
