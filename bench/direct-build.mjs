// Benchmark: the direct backend building a COPY-heavy image, then writing an oci-archive.
// Measures wall time, throughput and peak RSS (memory must stay flat whatever the layer size).
//   pnpm -s build && node bench/direct-build.mjs [--big-mib 256] [--small 2000]
// (works against older builds of core too: the buildImage phases are skipped there)
// Prints one JSON line per phase, so results can be compared across commits.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadCore } from './lib.mjs';

const { core, engine, output, buildDigest } = await loadCore();
const { stage, toGraph } = core;
const { exportImage } = output;

const { values } = parseArgs({
  options: { 'big-mib': { type: 'string', default: '256' }, small: { type: 'string', default: '2000' } },
});
const bigMiB = Number(values['big-mib']);
const smallCount = Number(values.small);

const work = mkdtempSync(join(tmpdir(), 'wharf-bench-'));
const ctx = join(work, 'ctx');
mkdirSync(join(ctx, 'small'), { recursive: true });

// A big file of half-compressible data (like binaries), written in 1 MiB chunks.
const fd = openSync(join(ctx, 'big.bin'), 'w');
let seed = createHash('sha256').update('wharf').digest();
for (let i = 0; i < bigMiB; i++) {
  const chunk = Buffer.alloc(1 << 20);
  for (let j = 0; j < chunk.length; j += 32) {
    seed = createHash('sha256').update(seed).digest();
    if ((j >> 5) % 2 === 0) seed.copy(chunk, j);
  }
  writeSync(fd, chunk);
}
closeSync(fd);
for (let i = 0; i < smallCount; i++)
  writeFileSync(join(ctx, 'small', `f${i}.txt`), randomBytes(512).toString('hex'));

console.log(
  JSON.stringify({
    phase: 'generate context',
    mib: bigMiB,
    maxRssMiB: Number((process.resourceUsage().maxRSS / 1024).toFixed(1)),
  }),
);

const graph = toGraph(
  stage('bench')
    .from('scratch')
    .copy('big.bin', '/data/big.bin')
    .copy('small', '/data/small')
    .cmd(['/data/big.bin']),
);

async function measure(name, bytes, fn) {
  const started = performance.now();
  const result = await fn();
  const seconds = (performance.now() - started) / 1000;
  const mib = bytes / 2 ** 20;
  console.log(
    JSON.stringify({
      phase: name,
      seconds: Number(seconds.toFixed(2)),
      mib: Number(mib.toFixed(1)),
      mibPerSecond: Number((mib / seconds).toFixed(1)),
      maxRssMiB: Number((process.resourceUsage().maxRSS / 1024).toFixed(1)),
    }),
  );
  return result;
}

const inputBytes = bigMiB * 2 ** 20 + smallCount * 1024;
const cacheDir = join(work, 'cache');
const cold = await measure('build (cold store)', inputBytes, () =>
  buildDigest(graph, { contextDir: ctx, cacheDir }),
);
await measure('build (warm store, same inputs)', inputBytes, () =>
  buildDigest(graph, { contextDir: ctx, cacheDir }),
);
await measure('write oci-archive', inputBytes, () =>
  exportImage(cold.image, { type: 'oci-archive', dest: join(work, 'out.tar') }),
);
await measure('write docker-archive', inputBytes, () =>
  exportImage(cold.uncompressedImage ?? cold.image, {
    type: 'docker-archive',
    dest: join(work, 'out-docker.tar'),
  }),
);
// Since layers are built uncompressed: the build alone (what a docker-archive output waits for), then
// the gzip that the digest (and any oci/registry output) needs, once per layer.
if (engine.buildImage) {
  const fresh = join(work, 'cache-2');
  const built = await measure('build only, no compression (cold store, buildImage)', inputBytes, () =>
    engine.buildImage(graph, { contextDir: ctx, cacheDir: fresh }),
  );
  await measure('then the digest (gzips the new layers)', inputBytes, () => built.image.digest());
}
rmSync(work, { recursive: true, force: true });
