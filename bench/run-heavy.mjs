// Benchmark (issue 5 c): a RUN-heavy Dockerfile on a Debian base, wharf vs BuildKit in the same run.
//   pnpm -s build && node bench/run-heavy.mjs
// Base: `debootstrap --variant=minbase bookworm`, tarred once into ~/.cache/wharf-bench/ (reruns skip
// it), `docker import`ed and pushed to the loopback mirror as 127.0.0.1:5151/wharf-bench/debian:bookworm
// (skipped when the mirror already has it; the local docker image is removed so BuildKit pulls too).
// Steps: create 5000 files, copy a tree (/usr/share), delete trees (in the base and from a RUN),
// write a 64 MiB file, useradd.
// Default (issue 21's targets): `--rounds N` (default 3) rounds, the order rotating, of BuildKit cold
// (`docker builder prune -af` + `DOCKER_BUILDKIT=1 docker build -q`, into dockerd, pulling the base),
// wharf cold with no output and wharf cold `-o type=oci,dest=NEW_DIR` (each a fresh --cache-dir, so
// both pull the base); medians, the ratios to BuildKit, and wharf's median time per phase of each step
// (from `--progress json`: the base pull, each RUN's prepare / run / diff / write).
// `--no-change`: the issue 5 run instead — one cold pair with a docker-archive output (+ `docker save`),
// then wharf's no-change rebuild (whole CLI process, and buildGraph alone in-process).
// `--before DIR [--rounds N]` instead compares this checkout's CLI with another checkout's
// (DIR/packages/cli/dist/main.js, e.g. the commit before the RUN sandbox, built as run-startup.mjs
// says): N alternating cold builds each (fresh --cache-dir, no output), medians and ratio.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  discard,
  docker,
  inProcessRebuild,
  log,
  machine,
  mibOf,
  printDetails,
  run,
  s,
  settle,
  table,
  tempDir,
  WHARF,
  wharf,
} from './lib.mjs';

const { values: flags } = parseArgs({
  options: {
    before: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    'no-change': { type: 'boolean', default: false },
  },
});

const BASE = '127.0.0.1:5151/wharf-bench/debian:bookworm';
const cacheHome = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'wharf-bench');
const baseTar = join(cacheHome, 'debian-bookworm-minbase.tar');

const DOCKERFILE = `FROM ${BASE}
RUN mkdir -p /data/many && cd /data/many && for d in $(seq -w 1 20); do mkdir d$d; for f in $(seq -w 1 250); do echo "file $d/$f" > d$d/f$f.txt; done; done
RUN cp -a /usr/share /data/share-copy
RUN rm -rf /usr/share/doc /usr/share/man /var/cache/apt /data/many/d0*
RUN head -c 64M /dev/urandom > /data/big.bin
RUN useradd -m -s /bin/bash bench && mkdir /home/bench/work && chown bench:bench /home/bench/work
CMD ["/bin/bash"]
`;

function mirrorHas(ref) {
  const [host, rest] = [ref.slice(0, ref.indexOf('/')), ref.slice(ref.indexOf('/') + 1)];
  const [repo, tag] = rest.split(':');
  return new Promise((ok) => {
    const req = request(
      `http://${host}/v2/${repo}/manifests/${tag}`,
      { method: 'HEAD', headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' } },
      (res) => {
        res.resume();
        ok(res.statusCode === 200);
      },
    );
    req.on('error', () => ok(false));
    req.end();
  });
}

async function ensureBase() {
  if (await mirrorHas(BASE)) return 'already in the mirror';
  if (!existsSync(baseTar)) {
    log('debootstrap --variant=minbase bookworm (once; cached in ~/.cache/wharf-bench)…');
    mkdirSync(cacheHome, { recursive: true });
    const root = tempDir('debootstrap');
    try {
      await run('debootstrap', ['--variant=minbase', 'bookworm', root, 'http://deb.debian.org/debian']);
      await run('tar', ['--numeric-owner', '-C', root, '-cf', `${baseTar}.tmp`, '.']);
      renameSync(`${baseTar}.tmp`, baseTar);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }
  log(`docker import + push ${BASE}…`);
  await docker(['import', '--change', 'CMD ["/bin/bash"]', baseTar, BASE]);
  await docker(['push', BASE]);
  await docker(['rmi', BASE]);
  return 'imported and pushed';
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** `--before DIR`: alternating cold builds with this checkout's CLI and DIR's; no BuildKit. */
async function beforeAndAfter({ dockerfile, ctx, before }) {
  const times = { before: [], after: [] };
  const cpu = { before: [], after: [] };
  for (let round = 0; round < Number(flags.rounds); round++) {
    for (const [name, cli] of [
      ['before', before],
      ['after', WHARF],
    ]) {
      const dir = tempDir(`run-heavy-${name}`);
      await settle();
      const load = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
      // CPU (user + sys of the CLI and what it waits for) says more than wall time on a shared machine
      const result = await run('/usr/bin/time', [
        ...['-f', 'WHARF_BENCH_CPU %U %S', process.execPath, cli],
        ...['build', '-f', dockerfile, ctx, '--cache-dir', join(dir, 'cache'), '--progress', 'json'],
      ]);
      discard(dir);
      const [, user, sys] = /WHARF_BENCH_CPU (\S+) (\S+)/.exec(result.stderr) ?? [];
      times[name].push(result.seconds);
      cpu[name].push(Number(user) + Number(sys));
      const steps = Object.values(stepPhases(result)).map((p) => p.prepare ?? 0);
      log(
        `round ${round + 1} ${name}: ${s(result.seconds)} s, CPU ${s(cpu[name].at(-1))} s (load ${load}; RUN prepare ms ${steps.join(' ')})`,
      );
    }
  }
  const [b, a] = [median(times.before), median(times.after)];
  const [bc, ac] = [median(cpu.before), median(cpu.after)];
  table([
    { phase: 'cold (median)', before: b, after: a, 'after/before': a / b, target: '<= 1.05' },
    { phase: 'cold CPU (median)', before: bc, after: ac, 'after/before': ac / bc },
  ]);
  console.log(
    JSON.stringify({
      bench: 'run-heavy --before',
      date: new Date().toISOString(),
      machine: machine(),
      before: times.before.map(s),
      after: times.after.map(s),
      medians: { before: s(b), after: s(a), ratio: s(a / b), cpuBefore: s(bc), cpuAfter: s(ac) },
      cpu: { before: cpu.before.map(s), after: cpu.after.map(s) },
    }),
  );
}

/** The phases of each step of a `--progress json` run: `{ "[stage step] text": { ms, phases } }`. */
function stepPhases(result) {
  const steps = {};
  for (const { text } of result.lines ?? []) {
    if (!text.startsWith('{')) continue;
    let e;
    try {
      e = JSON.parse(text);
    } catch {
      continue;
    }
    if (e.type !== 'step-finished') continue;
    steps[`${e.step} ${e.text.replace(/\s+/g, ' ').slice(0, 40)}`] = { ms: e.ms, ...(e.phases ?? {}) };
  }
  return steps;
}

/** Per step and phase, the median over runs (ms). */
function medianPhases(runs) {
  const out = {};
  for (const key of Object.keys(runs[0] ?? {})) {
    const phases = new Set(runs.flatMap((r) => Object.keys(r[key] ?? {})));
    out[key] = {};
    for (const p of phases) {
      const xs = runs.map((r) => r[key]?.[p]).filter((x) => x !== undefined);
      if (xs.length) out[key][p] = median(xs);
    }
  }
  return out;
}

/** Issue 21: N rounds of BuildKit cold, wharf cold (no output), wharf cold `-o type=oci`; medians. */
async function coldRounds({ dockerfile, ctx, tag }) {
  const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const kinds = {
    buildkit: async () => {
      await docker(['rmi', '-f', tag], { allowFail: true });
      await docker(['builder', 'prune', '-af']);
      await settle();
      return docker(['build', '-q', '-t', tag, '-f', dockerfile, ctx]);
    },
    wharf: async (dir) => {
      await settle();
      return wharf(['build', '-f', dockerfile, ctx, '--cache-dir', join(dir, 'cache'), '--progress', 'json']);
    },
    'wharf-oci': async (dir) => {
      await settle();
      return wharf([
        ...['build', '-f', dockerfile, ctx, '--cache-dir', join(dir, 'cache'), '--progress', 'json'],
        ...['-o', `type=oci,dest=${join(dir, 'oci')}`],
      ]);
    },
  };
  const names = Object.keys(kinds);
  const times = Object.fromEntries(names.map((n) => [n, []]));
  const phases = { wharf: [], 'wharf-oci': [] };
  const loads = [];
  for (let round = 0; round < Number(flags.rounds); round++) {
    const order = names.map((_, i) => names[(i + round) % names.length]);
    for (const name of order) {
      const dir = tempDir(`run-heavy-${name}`);
      try {
        const before = load();
        const result = await kinds[name](dir);
        times[name].push(result.seconds);
        if (phases[name]) phases[name].push(stepPhases(result));
        loads.push(before);
        log(`round ${round + 1} ${name}: ${s(result.seconds)} s (load ${before})`);
      } finally {
        discard(dir);
      }
    }
  }
  const m = Object.fromEntries(names.map((n) => [n, median(times[n])]));
  table([
    {
      phase: 'cold, no output',
      wharf: m.wharf,
      buildkit: m.buildkit,
      ratio: m.wharf / m.buildkit,
      target: '<= 1.0',
    },
    {
      phase: 'cold, -o type=oci',
      wharf: m['wharf-oci'],
      buildkit: m.buildkit,
      ratio: m['wharf-oci'] / m.buildkit,
      target: '<= 1.2',
    },
  ]);
  const perPhase = { wharf: medianPhases(phases.wharf), 'wharf-oci': medianPhases(phases['wharf-oci']) };
  console.log('\nwharf, median ms per step and phase:');
  for (const [name, steps] of Object.entries(perPhase)) {
    console.log(name);
    for (const [step, p] of Object.entries(steps)) console.log(`  ${step.padEnd(48)} ${JSON.stringify(p)}`);
  }
  console.log(
    JSON.stringify({
      bench: 'run-heavy rounds',
      date: new Date().toISOString(),
      machine: machine(),
      loads,
      runs: Object.fromEntries(names.map((n) => [n, times[n].map(s)])),
      medians: Object.fromEntries(names.map((n) => [n, s(m[n])])),
      ratios: { noOutput: s(m.wharf / m.buildkit), oci: s(m['wharf-oci'] / m.buildkit) },
      phases: perPhase,
    }),
  );
}

const work = tempDir('run-heavy');
const tag = `wharf-bench/run-heavy:${process.pid}`;
const cleanup = async () => {
  await docker(['rmi', '-f', tag], { allowFail: true });
  rmSync(work, { recursive: true, force: true });
};
process.on('SIGINT', () => cleanup().then(() => process.exit(130)));

try {
  const base = await ensureBase();
  log(`base ${BASE}: ${base}`);
  const ctx = join(work, 'ctx');
  mkdirSync(ctx);
  const dockerfile = join(ctx, 'Dockerfile');
  writeFileSync(dockerfile, DOCKERFILE);
  const cacheDir = join(work, 'wharf-cache');
  const wharfOut = join(work, 'wharf.tar');
  const dockerOut = join(work, 'buildkit.tar');
  const wharfBuild = (progress = 'json') =>
    wharf([
      'build',
      '-f',
      dockerfile,
      ctx,
      '--cache-dir',
      cacheDir,
      '-o',
      `type=docker-archive,dest=${wharfOut}`,
      '-t',
      tag,
      '--progress',
      progress,
    ]);

  if (flags.before) {
    await beforeAndAfter({ dockerfile, ctx, before: join(flags.before, 'packages/cli/dist/main.js') });
    process.exit(0);
  }

  if (!flags['no-change']) {
    await coldRounds({ dockerfile, ctx, tag });
    process.exit(0);
  }

  log('wharf cold build…');
  await settle();
  const wCold = await wharfBuild();
  log('BuildKit cold build (after docker builder prune -af)…');
  await docker(['builder', 'prune', '-af']);
  await settle();
  const dBuild = await docker(['build', '-q', '-t', tag, '-f', dockerfile, ctx]);
  const dSave = await docker(['save', '-o', dockerOut, tag]);
  log('wharf no-change rebuild…');
  await settle();
  const wNoop = await wharfBuild();
  const wNoopNoOut = await wharf([
    'build',
    '-f',
    dockerfile,
    ctx,
    '--cache-dir',
    cacheDir,
    '--progress',
    'quiet',
  ]);
  const inProc = await inProcessRebuild({
    dockerfile,
    contextDir: ctx,
    cacheDir,
    out: join(work, 'inproc.tar'),
  });
  log('BuildKit no-change rebuild…');
  await settle();
  const dNoop = await docker(['build', '-q', '-t', tag, '-f', dockerfile, ctx]);

  const dTotal = dBuild.seconds + dSave.seconds;
  table([
    {
      phase: 'cold',
      wharf: wCold.seconds,
      buildkitBuild: dBuild.seconds,
      buildkitSave: dSave.seconds,
      buildkitTotal: dTotal,
      'wharf/buildkitBuild': wCold.seconds / dBuild.seconds,
      'wharf/buildkitTotal': wCold.seconds / dTotal,
      target: '<= 1.5x',
    },
    {
      phase: 'no change, CLI + archive',
      wharf: wNoop.seconds,
      buildkitBuild: dNoop.seconds,
      target: '< 0.3 s',
    },
    { phase: 'no change, CLI, no -o', wharf: wNoopNoOut.seconds },
    { phase: 'no change, buildGraph only', wharf: inProc.buildSecond },
  ]);
  printDetails({
    wharfOut,
    dockerOut,
    inProc,
    runs: [
      ['cold', wCold, 6],
      ['no-change', wNoop, 3],
    ],
  });
  console.log(
    JSON.stringify({
      bench: 'run-heavy',
      date: new Date().toISOString(),
      machine: machine(),
      cold: {
        wharf: s(wCold.seconds),
        buildkitBuild: s(dBuild.seconds),
        buildkitSave: s(dSave.seconds),
        ratioVsBuild: s(wCold.seconds / dBuild.seconds),
        ratioVsBuildPlusSave: s(wCold.seconds / dTotal),
      },
      noChange: {
        wharfCli: s(wNoop.seconds),
        wharfCliNoOutput: s(wNoopNoOut.seconds),
        wharfBuildGraph: inProc.buildSecond,
        wharfBuildGraphFirstInProcess: inProc.buildFirst,
        buildkitBuild: s(dNoop.seconds),
      },
      archiveMiB: { wharf: mibOf(wharfOut), buildkit: mibOf(dockerOut) },
    }),
  );
} finally {
  await cleanup();
}
