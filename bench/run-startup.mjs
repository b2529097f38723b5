// Benchmark (issue 12): the per-step start-up cost of a RUN — runc, the snapshot, and now the sandbox
// (a network namespace with slirp4netns, the seccomp filter).
//   pnpm -s build && node bench/run-startup.mjs [--steps 20] [--rounds 3] [--before DIR]
// Builds `FROM busybox` + N × `RUN true` with --no-cache (every step runs; none changes a file) and
// reports the median wall time of a RUN step and of its phases, from `--progress json` step events.
// `--before DIR` runs the same build with another checkout's CLI (DIR/packages/cli/dist/main.js), e.g.
// the commit before the sandbox, built in a temp dir: `git archive <commit> | tar -x -C DIR`, then
// `pnpm install --offline --frozen-lockfile && pnpm -s build` there. Rounds alternate old and new.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { MIRROR, machine, run, tempDir, WHARF } from './lib.mjs';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '3' },
    before: { type: 'string' },
  },
});
const steps = Number(values.steps);
const rounds = Number(values.rounds);
const base = `${MIRROR.replace(/^https?:\/\//, '')}/library/busybox:latest`;

const context = tempDir('run-startup');
writeFileSync(join(context, 'Dockerfile'), `FROM ${base}\n${'RUN true\n'.repeat(steps)}`);

const median = (xs) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.floor(sorted.length / 2)] : Number.NaN;
};

/** One build; the RUN steps' total and phase times (ms) from the json progress events. */
async function build(cli) {
  const cacheDir = join(tempDir('run-startup-cache'), 'cache');
  const args = ['build', '-f', join(context, 'Dockerfile'), context, '--no-cache', '--progress', 'json'];
  // warm the base into this cache first, so pulling is not counted
  await run(process.execPath, [cli, ...args, '--cache-dir', cacheDir]);
  const result = await run(process.execPath, [cli, ...args, '--cache-dir', cacheDir]);
  const events = result.stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line))
    .filter((e) => e.type === 'step-finished' && /^RUN /.test(e.text ?? ''));
  return {
    step: events.map((e) => e.ms),
    prepare: events.map((e) => e.phases?.prepare ?? Number.NaN),
    run: events.map((e) => e.phases?.run ?? Number.NaN),
  };
}

const tools = {
  after: WHARF,
  ...(values.before ? { before: join(values.before, 'packages/cli/dist/main.js') } : {}),
};
const samples = Object.fromEntries(Object.keys(tools).map((k) => [k, { step: [], prepare: [], run: [] }]));
for (let round = 0; round < rounds; round++) {
  for (const [name, cli] of Object.entries(tools)) {
    const r = await build(cli);
    for (const key of ['step', 'prepare', 'run']) samples[name][key].push(...r[key]);
  }
}
for (const [name, s] of Object.entries(samples)) {
  console.log(
    JSON.stringify({
      bench: 'run-startup',
      cli: name,
      steps,
      rounds,
      medianStepMs: median(s.step),
      medianPrepareMs: median(s.prepare),
      medianRunMs: median(s.run),
      machine: machine(),
    }),
  );
}
