// Benchmark (issue 21, zstd layers): build + push time and pushed size, gzip vs zstd, on the COPY-heavy
// Node app context (package files, node_modules, src/ in three COPY layers, FROM scratch).
//   pnpm -s build && node bench/copy-heavy.mjs   # once: makes the context (npm install, kept in ~/.cache)
//   node bench/zstd.mjs [--runs 3] [--compression gzip --compression zstd --compression zstd,level=9]
//                       [--context DIR]
// Each run, for each compression (order alternating between runs): a fresh --cache-dir and a fresh
// loopback docker-registry, then `wharf build … --compression X -t REG/bench/app:1 --push`, timed as a
// whole CLI process. The pushed size is the sum of the manifest's layer sizes (the same every run:
// both compressions are deterministic). Prints the median of the runs and the ratio to gzip.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  COPY_HEAVY_CONTEXT,
  log,
  machine,
  run,
  s,
  settle,
  startRegistry,
  table,
  tempDir,
  WHARF,
} from './lib.mjs';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    compression: { type: 'string', multiple: true, default: ['gzip', 'zstd'] },
    context: { type: 'string' },
  },
});
const runs = Number(values.runs);
const context = values.context ?? COPY_HEAVY_CONTEXT;
if (!existsSync(join(context, 'package.json')) || !existsSync(join(context, 'node_modules'))) {
  throw new Error(
    `${context} has no package.json + node_modules: run bench/copy-heavy.mjs once, or pass --context`,
  );
}

const work = tempDir('zstd');
const dockerfile = join(work, 'Dockerfile');
writeFileSync(
  dockerfile,
  [
    'FROM scratch',
    'WORKDIR /app',
    'COPY package*.json ./',
    'COPY node_modules ./node_modules',
    ...(existsSync(join(context, 'src')) ? ['COPY src ./src'] : []),
    '',
  ].join('\n'),
);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** One cold build + push with `compression`: wall seconds and pushed layer bytes. */
async function buildAndPush(compression, i) {
  const registry = await startRegistry();
  try {
    const ref = `${registry.host}/bench/app:1`;
    await settle();
    const result = await run(process.execPath, [
      WHARF,
      'build',
      '-f',
      dockerfile,
      context,
      '--cache-dir',
      join(work, `cache-${i}-${compression}`),
      '--compression',
      compression,
      '-t',
      ref,
      '--push',
      '--progress',
      'quiet',
    ]);
    const response = await fetch(`${registry.url}/v2/bench/app/manifests/1`, {
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    const manifest = await response.json();
    const bytes = manifest.layers.reduce((n, l) => n + l.size, 0);
    const types = [...new Set(manifest.layers.map((l) => l.mediaType.split('+')[1]))].join(',');
    return { seconds: result.seconds, bytes, types };
  } finally {
    await registry.stop();
    await run('rm', ['-rf', join(work, `cache-${i}-${compression}`)]);
  }
}

try {
  log(`context ${context}; ${runs} runs of ${values.compression.join(', ')}`);
  const results = new Map(values.compression.map((c) => [c, []]));
  for (let i = 0; i < runs; i++) {
    const order = i % 2 === 0 ? values.compression : [...values.compression].reverse();
    for (const compression of order) {
      const r = await buildAndPush(compression, i);
      log(`run ${i + 1} ${compression}: ${s(r.seconds)} s, ${s(r.bytes / 2 ** 20)} MiB (${r.types})`);
      results.get(compression).push(r);
    }
  }
  const baseline = results.get(values.compression[0]);
  const baseSeconds = median(baseline.map((r) => r.seconds));
  const baseBytes = baseline[0].bytes;
  const rows = values.compression.map((compression) => {
    const rs = results.get(compression);
    const seconds = median(rs.map((r) => r.seconds));
    return {
      compression,
      layers: rs[0].types,
      'build+push s (median)': s(seconds),
      runs: rs.map((r) => s(r.seconds)).join(' '),
      'pushed MiB': s(rs[0].bytes / 2 ** 20),
      [`time vs ${values.compression[0]}`]: s(seconds / baseSeconds),
      [`size vs ${values.compression[0]}`]: s(rs[0].bytes / baseBytes),
    };
  });
  console.log(JSON.stringify({ machine: machine(), context, runs }));
  table(rows);
} finally {
  await run('rm', ['-rf', work]);
}
