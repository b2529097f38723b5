// Benchmark (issue 16): two platforms in one wharf run vs BuildKit building both, and vs two
// single-platform wharf runs one after the other.
//   pnpm -s build && node bench/multi-platform.mjs [--rounds 3] [--files 2000] [--mib 32]
// The Dockerfile cross-compiles the usual way: a `FROM --platform=$BUILDPLATFORM` stage packs a
// generated source tree natively (shared by both platforms), the target stage copies the result and a
// large incompressible asset, and RUNs once (emulated for arm64). Base: the two-platform
// `busybox:multi` the test setup pushes to the loopback mirror (`pnpm test:e2e` leaves it there).
// Each round, in turn: `wharf build --platform linux/amd64,linux/arm64 -o type=oci-archive` with a
// fresh cache, and `--platform linux/amd64` then `--platform linux/arm64` (two processes, each
// writing its oci-archive) sharing another fresh cache; both include pulling the base. BuildKit:
// Docker 20.10 has no buildx, so no one `docker build` makes an index; its nearest equivalent is
// `docker build --platform X` for each in turn after `docker builder prune -af` (the second takes the
// shared $BUILDPLATFORM stage from the cache), plus `docker save` of each — wharf writes a file too.
// On a daemon shared with other builds, BuildKit's COPY failed now and then ("failed to chmod …: no
// such file or directory"); such a round is run again once, and left out of BuildKit's median (logged)
// if that fails too. Prints the medians and the ratios (wharf one run / BuildKit, one run / sequential),
// one JSON line.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  docker,
  log,
  MIRROR,
  machine,
  s,
  settle,
  tempDir,
  wharf,
  writeRandomFile,
  writeSourceTree,
} from './lib.mjs';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    files: { type: 'string', default: '2000' },
    mib: { type: 'string', default: '32' },
  },
});
const rounds = Number(values.rounds);
const base = `${MIRROR.replace(/^https?:\/\//, '')}/library/busybox:multi`;

const made = [];
/** A temp dir removed at the end. */
const scratch = (prefix) => {
  const dir = tempDir(prefix);
  made.push(dir);
  return dir;
};
const context = scratch('multi-platform');
mkdirSync(join(context, 'src'));
writeSourceTree(join(context, 'src'), Number(values.files), 4096);
mkdirSync(join(context, 'assets'));
writeRandomFile(join(context, 'assets', 'blob.bin'), Number(values.mib) * 2 ** 20, 'multi-platform');
writeFileSync(
  join(context, 'Dockerfile'),
  `FROM --platform=$BUILDPLATFORM ${base} AS build
COPY src/ /src/
RUN tar -C /src -cf /out.tar . && uname -m > /built-on
FROM ${base}
COPY --from=build /out.tar /built-on /app/
COPY assets/ /assets/
RUN uname -m > /arch
`,
);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** One `wharf build` process with the given platforms, writing an oci-archive under `out`. */
async function build(platforms, cacheDir, out) {
  const result = await wharf([
    'build',
    '-f',
    join(context, 'Dockerfile'),
    context,
    '--registry-mirror',
    MIRROR,
    '--progress',
    'quiet',
    '--cache-dir',
    cacheDir,
    '--platform',
    platforms,
    '-o',
    `type=oci-archive,dest=${join(out, `${platforms.replaceAll('/', '-').replaceAll(',', '+')}.tar`)}`,
  ]);
  return result.seconds;
}

/**
 * BuildKit: `docker build --platform X` for each platform in turn (fresh builder cache first; the second
 * takes the shared $BUILDPLATFORM stage from the first's cache), each then `docker save`d; seconds.
 */
async function buildkit(out) {
  const tags = ['linux/amd64', 'linux/arm64'].map((p) => [p, `wharf-bench/multi:${p.replace('/', '-')}`]);
  for (const [, tag] of tags) await docker(['rmi', '-f', tag], { allowFail: true });
  await docker(['builder', 'prune', '-af']);
  await settle();
  let seconds = 0;
  for (const [platform, tag] of tags) {
    const built = await docker([
      'build',
      '-q',
      '--platform',
      platform,
      '-t',
      tag,
      '-f',
      join(context, 'Dockerfile'),
      context,
    ]);
    const saved = await docker(['save', '-o', join(out, `buildkit-${tag.split(':')[1]}.tar`), tag]);
    seconds += built.seconds + saved.seconds;
  }
  for (const [, tag] of tags) await docker(['rmi', '-f', tag], { allowFail: true });
  return seconds;
}

const oneRun = [];
const sequential = [];
const buildkitRuns = [];
for (let round = 0; round < rounds; round++) {
  const out = scratch('multi-platform-out');
  await settle();
  oneRun.push(await build('linux/amd64,linux/arm64', join(scratch('multi-cache'), 'cache'), out));
  log(`round ${round + 1}: one run ${s(oneRun.at(-1))} s`);
  await settle();
  const cacheDir = join(scratch('multi-cache'), 'cache');
  const amd64 = await build('linux/amd64', cacheDir, out);
  const arm64 = await build('linux/arm64', cacheDir, out);
  sequential.push(amd64 + arm64);
  log(`round ${round + 1}: sequential ${s(amd64)} + ${s(arm64)} = ${s(amd64 + arm64)} s`);
  const bk = await buildkit(out).catch(async (error) => {
    log(`round ${round + 1}: BuildKit failed (${String(error.message).split('\n').at(-2)}); once more`);
    return buildkit(out).catch((again) => {
      log(
        `round ${round + 1}: BuildKit failed again (${String(again.message).split('\n').at(-2)}); round left out`,
      );
      return undefined;
    });
  });
  if (bk !== undefined) {
    buildkitRuns.push(bk);
    log(`round ${round + 1}: BuildKit (each platform + docker save) ${s(bk)} s`);
  }
}
for (const dir of made) rmSync(dir, { recursive: true, force: true });
console.log(
  JSON.stringify({
    bench: 'multi-platform',
    rounds,
    files: Number(values.files),
    assetMiB: Number(values.mib),
    oneRunMedianS: s(median(oneRun)),
    sequentialMedianS: s(median(sequential)),
    buildkitMedianS: s(median(buildkitRuns)),
    ratio: s(median(oneRun) / median(sequential)),
    ratioToBuildkit: s(median(oneRun) / median(buildkitRuns)),
    oneRun: oneRun.map(s),
    sequential: sequential.map(s),
    buildkit: buildkitRuns.map(s),
    machine: machine(),
  }),
);
