// Benchmark (issue 21): CLI start-up — the time from spawning `wharf` to the first step of a cached
// build, next to Node's own start-up and BuildKit's no-change build of the same image.
//   pnpm -s build && node bench/cli-startup.mjs [--runs 9] [--before DIR] [--no-docker]
// Rows, each the median of --runs interleaved runs (one of every row per round):
//   node            `node -e 0`: the floor no Node program goes below
//   --version       `wharf --version`
//   --help          `wharf build --help`
//   no change       `wharf build examples/hello/build.ts --progress json` (cached), the whole process;
//                   its "first step" column: spawn → the first `step-started` line read from its stderr
// Each row also gives the CPU time (user + system, from GNU time, in hundredths): steadier than wall
// time when other work shares the machine; its mean over the rounds ("cpu mean s") resolves the
// differences of a few ms that the hundredths of one run cannot; with --before, "cpu ÷ before"
// compares the two CLIs' means.
//   docker build    BuildKit's no-change `docker build -q` of the Dockerfile `wharf dockerfile` emits
// `--before DIR` adds the same rows for another checkout's CLI (DIR/packages/cli/dist/main.js).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DOCKER, machine, ROOT, run, table, tempDir, WHARF } from './lib.mjs';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '9' },
    before: { type: 'string' },
    'no-docker': { type: 'boolean', default: false },
  },
});
const runs = Number(values.runs);
const hello = join(ROOT, 'examples/hello');
const cacheDir = join(tempDir('cli-startup'), 'cache');

/** `cmd args` under GNU time: wall seconds, CPU seconds (user + system) and the run's stderr lines. */
async function timed(cmd, args, opts) {
  const result = await run('/usr/bin/time', ['-f', 'wharf-bench-cpu %U %S', cmd, ...args], opts);
  const cpu = /wharf-bench-cpu (\S+) (\S+)/.exec(result.stderr);
  return { ...result, cpu: Number(cpu[1]) + Number(cpu[2]) };
}

const median = (xs) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

const clis = {
  after: WHARF,
  ...(values.before ? { before: join(values.before, 'packages/cli/dist/main.js') } : {}),
};
const build = ['build', join(hello, 'build.ts'), '--progress', 'json', '--cache-dir', cacheDir];

/** The rows of one CLI: name → a function giving seconds. */
function rowsOf(cli) {
  return {
    '--version': () => timed(process.execPath, [cli, '--version']),
    '--help': () => timed(process.execPath, [cli, 'build', '--help']),
    'no change': async () => {
      const result = await timed(process.execPath, [cli, ...build]);
      const first = result.lines.find((l) => l.text.includes('"type":"step-started"'));
      if (!first) throw new Error(`no step-started event:\n${result.stderr.slice(-2000)}`);
      return { ...result, firstStep: first.t };
    },
  };
}

const rows = { node: () => timed(process.execPath, ['-e', '0']) };
for (const [name, cli] of Object.entries(clis)) {
  for (const [row, fn] of Object.entries(rowsOf(cli))) rows[`${row} (${name})`] = fn;
  await run(process.execPath, [cli, ...build]); // fill the cache (and jiti's transform cache)
}

if (!values['no-docker']) {
  const dockerDir = tempDir('cli-startup-docker');
  const dockerfile = join(dockerDir, 'Dockerfile');
  writeFileSync(
    dockerfile,
    (await run(process.execPath, [WHARF, 'dockerfile', join(hello, 'build.ts')])).stdout,
  );
  const args = ['build', '-q', '-f', dockerfile, '-t', 'wharf-bench/cli-startup', hello];
  const env = { DOCKER_BUILDKIT: '1' };
  await run(DOCKER, args, { env });
  rows['docker build'] = () => timed(DOCKER, args, { env });
}

const samples = Object.fromEntries(Object.keys(rows).map((k) => [k, []]));
for (let round = 0; round < runs; round++) {
  for (const [name, fn] of Object.entries(rows)) samples[name].push(await fn());
}
if (!values['no-docker']) await run(DOCKER, ['rmi', 'wharf-bench/cli-startup'], { allowFail: true });

const r3 = (x) => Number(x.toFixed(4));
const medianOf = (row, key) => {
  const xs = samples[row].map((r) => r[key]).filter((x) => x !== undefined);
  return xs.length ? r3(median(xs)) : undefined;
};
const medians = Object.fromEntries(
  Object.keys(samples).map((row) => [
    row,
    {
      wall: medianOf(row, 'seconds'),
      cpu: medianOf(row, 'cpu'),
      cpuMean: r3(samples[row].reduce((sum, r) => sum + r.cpu, 0) / samples[row].length),
      firstStep: medianOf(row, 'firstStep'),
    },
  ]),
);
const docker = medians['docker build']?.wall;
/** An `(after)` row's mean CPU time over the same row's `(before)`. */
function cpuRatio(row) {
  const before = medians[row.replace(/\(after\)$/, '(before)')];
  return row.endsWith('(after)') && before ? (medians[row].cpuMean / before.cpuMean).toFixed(2) : '';
}
table(
  Object.entries(medians).map(([row, m]) => ({
    row,
    'wall s': m.wall.toFixed(3),
    'cpu s': m.cpu.toFixed(2),
    'cpu mean s': m.cpuMean.toFixed(4),
    ...(values.before ? { 'cpu ÷ before': cpuRatio(row) } : {}),
    'first step s': m.firstStep?.toFixed(3) ?? '',
    ...(docker ? { 'wall ÷ docker build': (m.wall / docker).toFixed(2) } : {}),
    'wall runs s': samples[row].map((r) => r.seconds.toFixed(2)).join(' '),
  })),
);
console.log(
  JSON.stringify({ bench: 'cli-startup', date: new Date().toISOString(), machine: machine(), runs, medians }),
);
