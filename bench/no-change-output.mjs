// Benchmark (issue 21, outputs at link speed): the no-change rebuild of a ~165 MB image with
// `-o type=oci,dest=NEW_DIR`, whole CLI process, median of N runs (default 5):
//   - wharf linking the cache's blobs into the layout (the default),
//   - wharf streaming copies (WHARF_LAYOUT_COPY=1: the pre-link behaviour, every blob read, hashed, written),
//   - wharf with no output,
//   - BuildKit's no-change `DOCKER_BUILDKIT=1 docker build -q -t TAG` (no export), for reference.
//   pnpm -s build && node bench/no-change-output.mjs [--runs 5] [--mib 55] [--layers 3] [--before DIR]
// `--before DIR` adds a row: the linked run with another checkout's CLI (DIR/packages/cli/dist/main.js),
// interleaved with the rest, sharing the cache.
// Image: FROM scratch + one COPY per incompressible file (no base to pull, no runc). Runs of the four
// kinds are interleaved (so the machine's load hits them alike), each after a `sync`; every wharf run
// writes a new directory. Prints a table (wall medians; each wharf row's mean CPU time from GNU time)
// and one JSON line.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  discard,
  docker,
  log,
  machine,
  s,
  settle,
  table,
  tempDir,
  WHARF,
  wharfTimed,
  writeRandomFile,
} from './lib.mjs';

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const RUNS = opt('runs', 5);
const MIB = opt('mib', 55);
const LAYERS = opt('layers', 3);
const TAG = 'wharf-bench/no-change-output:latest';
const BEFORE = args.includes('--before') ? args[args.indexOf('--before') + 1] : undefined;

const median = (xs) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

const work = tempDir('no-change-output');
try {
  const context = join(work, 'context');
  mkdirSync(context);
  let dockerfile = 'FROM scratch\n';
  for (let i = 0; i < LAYERS; i++) {
    writeRandomFile(join(context, `blob${i}.bin`), MIB * 1024 * 1024, `no-change-output-${i}`);
    dockerfile += `COPY blob${i}.bin /data/${i}/\n`;
  }
  writeFileSync(join(context, 'Dockerfile'), dockerfile);
  const cache = join(work, 'cache');
  // Under GNU time: each wharf run's CPU time (user + system, all threads) too, steadier than wall
  // time on a shared machine.
  const build = (extra, env, cli = WHARF) =>
    wharfTimed(
      [
        'build',
        '--progress',
        'quiet',
        '--cache-dir',
        cache,
        '-f',
        join(context, 'Dockerfile'),
        context,
        ...extra,
      ],
      { env },
      cli,
    );
  let n = 0;
  const layoutRun = async (env, cli) => {
    await settle();
    const dest = join(work, `out-${n++}`);
    const { seconds, cpu } = await build(['-o', `type=oci,dest=${dest}`], env, cli);
    discard(dest);
    return { seconds, cpu };
  };

  log(`cold builds (untimed): ${LAYERS} × ${MIB} MiB`);
  await build(['-o', `type=oci,dest=${join(work, 'cold')}`]);
  discard(join(work, 'cold'));
  await docker(['build', '-q', '-t', TAG, context]);

  const times = { link: [], copy: [], noOutput: [], buildkit: [], ...(BEFORE ? { linkBefore: [] } : {}) };
  for (let i = 0; i < RUNS; i++) {
    log(`round ${i + 1}/${RUNS}`);
    times.link.push(await layoutRun({}));
    if (BEFORE) times.linkBefore.push(await layoutRun({}, join(BEFORE, 'packages/cli/dist/main.js')));
    times.copy.push(await layoutRun({ WHARF_LAYOUT_COPY: '1' }));
    await settle();
    times.noOutput.push(await build([]));
    await settle();
    times.buildkit.push({ seconds: (await docker(['build', '-q', '-t', TAG, context])).seconds });
  }
  const m = Object.fromEntries(
    Object.entries(times).map(([k, v]) => [k, s(median(v.map((r) => r.seconds)))]),
  );
  // Mean CPU seconds of the wharf rows (GNU time gives hundredths; the mean resolves a few ms).
  const cpu = Object.fromEntries(
    Object.entries(times)
      .filter(([k]) => k !== 'buildkit')
      .map(([k, v]) => [k, Number((v.reduce((sum, r) => sum + r.cpu, 0) / v.length).toFixed(3))]),
  );
  table([
    {
      phase: 'no change, -o type=oci (link)',
      seconds: m.link,
      'cpu s (mean)': cpu.link,
      'vs copy': s(m.link / m.copy),
      'vs BuildKit': s(m.link / m.buildkit),
    },
    {
      phase: 'no change, -o type=oci (WHARF_LAYOUT_COPY=1)',
      seconds: m.copy,
      'cpu s (mean)': cpu.copy,
      'vs copy': 1,
      'vs BuildKit': s(m.copy / m.buildkit),
    },
    {
      phase: 'no change, no output',
      seconds: m.noOutput,
      'cpu s (mean)': cpu.noOutput,
      'vs copy': s(m.noOutput / m.copy),
      'vs BuildKit': s(m.noOutput / m.buildkit),
    },
    ...(BEFORE
      ? [
          {
            phase: 'no change, -o type=oci (link), --before CLI',
            seconds: m.linkBefore,
            'cpu s (mean)': cpu.linkBefore,
            'vs copy': s(m.linkBefore / m.copy),
            'vs BuildKit': s(m.linkBefore / m.buildkit),
          },
        ]
      : []),
    {
      phase: 'BuildKit no-change docker build',
      seconds: m.buildkit,
      'cpu s (mean)': '',
      'vs copy': s(m.buildkit / m.copy),
      'vs BuildKit': 1,
    },
  ]);
  console.log(
    JSON.stringify({
      bench: 'no-change-output',
      date: new Date().toISOString(),
      machine: machine(),
      runs: RUNS,
      mib: MIB * LAYERS,
      median: m,
      cpuMean: cpu,
      outputCost: { link: s(m.link - m.noOutput), copy: s(m.copy - m.noOutput) },
      runsSeconds: Object.fromEntries(Object.entries(times).map(([k, v]) => [k, v.map((r) => s(r.seconds))])),
    }),
  );
} finally {
  await docker(['rmi', '-f', TAG], { allowFail: true }).catch(() => {});
  rmSync(work, { recursive: true, force: true });
}
