// Benchmark (issue 18): examples/monorepo's three images built and pushed, `wharf bake --push` (one
// process: the shared base stage once, shared blobs uploaded once and mounted) vs three sequential
// `DOCKER_BUILDKIT=1 docker build` + `docker push` of the Dockerfiles `wharf dockerfile --target` emits
// (each service's workspace context spelled as COPYs of the paths it keeps), in the same run, to a
// fresh loopback `docker-registry` each round.
//   pnpm -s build && node bench/bake.mjs [--runs 3]
// Each round:
//   cold         BuildKit after `docker builder prune -af`: no build cache, but dockerd still holds the
//                node:20-alpine image (the test environment pulled it), so BuildKit neither pulls nor
//                unpacks it. wharf in the same state: a cache dir holding only the pulled and unpacked
//                base (copied from a seed cache made once, untimed), no step of the example.
//   cold, empty  wharf with an empty --cache-dir: the base pull and unpack included (BuildKit has no
//                such row here: removing dockerd's node image would break the shared test environment).
//   one-file     a change in services/web (a new one each round), both tools warm from their cold run.
// Base node:20-alpine comes from the loopback mirror (127.0.0.1:5151). Prints medians, the ratios of
// the medians, and one JSON line with every round. wharf's runs also record CPU seconds (user + sys,
// GNU time): on a shared machine the steadier figure.
// `--before DIR` adds another checkout's CLI (DIR/packages/cli/dist/main.js) on the same project: its
// own cache (seeded the same way) and repositories, cold after wharf's, and after each one-file change
// run right after wharf's (alternating which goes first), so both rebuild and push the same change.
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  discard,
  docker,
  log,
  MIRROR,
  machine,
  ROOT,
  run,
  s,
  settle,
  startRegistry,
  table,
  tempDir,
  WHARF,
} from './lib.mjs';

const { workspaceSubset } = await import(join(ROOT, 'packages/core/dist/bundle/bake/index.js'));
const { values } = parseArgs({
  options: { runs: { type: 'string', default: '3' }, before: { type: 'string' } },
});
const BEFORE = values.before ? join(values.before, 'packages/cli/dist/main.js') : undefined;
/** Runs a wharf CLI (`cli`, default this checkout's) under GNU time: wall seconds plus `cpu` (user + sys). */
async function wharfTimed(args, opts, cli = WHARF) {
  const result = await run(
    '/usr/bin/time',
    ['-f', 'wharf-bench-cpu %U %S', process.execPath, cli, ...args],
    opts,
  );
  const cpu = /wharf-bench-cpu (\S+) (\S+)/.exec(result.stderr);
  return { ...result, cpu: cpu ? Number(cpu[1]) + Number(cpu[2]) : Number.NaN };
}
const wharf = (args, opts) => wharfTimed(args, opts);
const runs = Math.max(1, Number(values.runs));
const TARGETS = ['api', 'worker', 'web'];
const work = tempDir('bake');
const tagged = new Set();
const cleanup = async () => {
  for (const ref of tagged) await docker(['rmi', '-f', ref], { allowFail: true });
  rmSync(work, { recursive: true, force: true });
};
process.on('SIGINT', () => cleanup().then(() => process.exit(130)));

const median = (xs) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

try {
  // The seed: node:20-alpine pulled and unpacked (a RUN needs its rootfs), nothing of the example.
  const seedCache = join(work, 'seed-cache');
  mkdirSync(join(work, 'seed'));
  writeFileSync(
    join(work, 'seed/build.ts'),
    "import { stage } from '@wharf/core';\nexport default stage('seed').from('node:20-alpine').run('true');\n",
  );
  log('seeding a wharf cache with the pulled and unpacked node base (untimed)…');
  await wharf(['build', join(work, 'seed/build.ts'), '--cache-dir', seedCache, '--registry-mirror', MIRROR]);

  const rounds = [];
  for (let round = 1; round <= runs; round++) {
    const registry = await startRegistry();
    const proj = join(work, `monorepo-${round}`);
    cpSync(join(ROOT, 'examples/monorepo'), proj, {
      recursive: true,
      filter: (src) => !src.includes('node_modules'),
    });
    for (const name of TARGETS) {
      const file = join(proj, 'repo', `Dockerfile.${name}`);
      await wharf(['dockerfile', join(proj, 'build.ts'), '--target', name, '-o', file]);
      // docker 20.10's BuildKit has no named contexts (--build-context): the service's workspace
      // context becomes one COPY per path it keeps (the same files, from the main context).
      const subset = await workspaceSubset(join(proj, 'repo'), `services/${name}`);
      const copies = [...subset.rootFiles, ...subset.packages].map((p) => `COPY ${p} ./${p}`).join('\n');
      writeFileSync(
        file,
        readFileSync(file, 'utf8').replace(/^COPY --from=[\w-]+-workspace \. \.\/$/m, copies),
      );
    }
    const bake = (cacheDir, repo, cli = WHARF) =>
      wharfTimed(
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
        { env: { REGISTRY: `${registry.host}/${repo}` } },
        cli,
      );
    const buildkit = async () => {
      let seconds = 0;
      for (const name of TARGETS) {
        const ref = `${registry.host}/d/${name}:dev`;
        tagged.add(ref);
        const file = join(proj, 'repo', `Dockerfile.${name}`);
        seconds += (await docker(['build', '-q', '-t', ref, '-f', file, join(proj, 'repo')])).seconds;
        seconds += (await docker(['push', ref])).seconds;
      }
      return seconds;
    };
    const pushLine = (r) => /pushed: .*$/m.exec(r.stderr)?.[0] ?? '';

    log(`round ${round}/${runs}: wharf bake --push, cold with the base present…`);
    const cacheDir = join(work, `cache-${round}`);
    await run('cp', ['-a', seedCache, cacheDir]);
    await settle();
    const wCold = await bake(cacheDir, 'w');
    const beforeCache = join(work, `cache-before-${round}`);
    let bCold;
    if (BEFORE) {
      log(`round ${round}/${runs}: the --before CLI, cold with the base present…`);
      await run('cp', ['-a', seedCache, beforeCache]);
      await settle();
      bCold = await bake(beforeCache, 'b', BEFORE);
    }
    log(`round ${round}/${runs}: wharf bake --push, empty cache (base pull and unpack included)…`);
    const emptyCache = join(work, `empty-${round}`);
    await settle();
    const wEmpty = await bake(emptyCache, 'e');
    discard(emptyCache);
    log(`round ${round}/${runs}: BuildKit 3 × docker build + docker push, after docker builder prune -af…`);
    await docker(['builder', 'prune', '-af']);
    await settle();
    const dCold = await buildkit();

    writeFileSync(
      join(proj, 'repo/services/web/main.js'),
      `import { greeting } from '../../packages/greeting/dist/index.js';\n\nconsole.log(greeting('web'), '(change ${round})');\n`,
    );
    log(`round ${round}/${runs}: one-file change in services/web, wharf…`);
    const changeAfter = async () => {
      await settle();
      return bake(cacheDir, 'w');
    };
    const changeBefore = async () => {
      log(`round ${round}/${runs}: one-file change, the --before CLI…`);
      await settle();
      return bake(beforeCache, 'b', BEFORE);
    };
    let wChange;
    let bChange;
    if (!BEFORE) wChange = await changeAfter();
    else if (round % 2) [wChange, bChange] = [await changeAfter(), await changeBefore()];
    else [bChange, wChange] = [await changeBefore(), await changeAfter()];
    log(`round ${round}/${runs}: one-file change, BuildKit…`);
    await settle();
    const dChange = await buildkit();
    /** One phase's figures: wharf's wall and CPU, the --before CLI's, BuildKit's, what was pushed. */
    const phase = (w, b, buildkit) => ({
      wharf: s(w.seconds),
      wharfCpu: s(w.cpu),
      ...(b ? { before: s(b.seconds), beforeCpu: s(b.cpu) } : {}),
      ...(buildkit === undefined ? {} : { buildkit: s(buildkit) }),
      push: pushLine(w),
    });
    rounds.push({
      cold: phase(wCold, bCold, dCold),
      coldEmpty: phase(wEmpty),
      change: phase(wChange, bChange, dChange),
      load: loadavg()
        .map((x) => x.toFixed(2))
        .join(' '),
    });
    discard(beforeCache);
    log(`round ${round}: ${JSON.stringify(rounds.at(-1))}`);
    discard(cacheDir);
    await registry.stop();
    for (const ref of tagged) await docker(['rmi', '-f', ref], { allowFail: true });
    tagged.clear();
  }

  const m = (phase, tool) => median(rounds.map((r) => r[phase][tool]));
  const row = (label, phase, buildkitPhase = phase) => ({
    phase: label,
    wharf: s(m(phase, 'wharf')),
    buildkit: s(m(buildkitPhase, 'buildkit')),
    'wharf cpu': s(m(phase, 'wharfCpu')),
    ...(BEFORE && phase !== 'coldEmpty'
      ? { before: s(m(phase, 'before')), 'before cpu': s(m(phase, 'beforeCpu')) }
      : {}),
  });
  const rows = [
    row('cold (base present in both)', 'cold'),
    row('cold, wharf cache empty', 'coldEmpty', 'cold'),
    row('one-file change', 'change'),
  ].map((r) => ({
    ...r,
    ratio: s(r.wharf / r.buildkit),
    ...(r.before !== undefined ? { 'before ratio': s(r.before / r.buildkit) } : {}),
  }));
  table(rows);
  log(`medians of ${runs} rounds; cold ${rounds[0].cold.push}; change ${rounds[0].change.push}`);
  console.log(JSON.stringify({ bench: 'bake', machine: machine(), runs, medians: rows, rounds }));
} finally {
  await cleanup();
}
