// Benchmark: writing a docker-archive and an oci-archive of an image whose blobs are already in a
// local BlobStore (page-cached), against `cp` of the archive's bytes.
//   pnpm -s build && node bench/archive.mjs [--layers 6] [--mib 150] [--runs 5]
// The image: scratch + `--layers` uncompressed layers (tars of deterministic, incompressible bytes,
// AES-CTR of zeros) totalling about `--mib` MiB, put into a temp store the way the engine does
// (`store.put`, then `layerFromStore` with digest = diffID). Each writer runs `--runs` times to a
// file in the same temp dir (temp file, fsync, rename: what `wharf build -o` does); `cp` copies the
// finished docker-archive, without fsync. Prints a table on stderr and one JSON line on stdout, with
// the sha256 of each archive (the bytes must not change between implementations).
import { spawnSync } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as archive from '../packages/core/dist/bundle/archive/index.js';
import { openStore } from '../packages/core/dist/bundle/engine/index.js';
import * as images from '../packages/core/dist/bundle/image/index.js';
import * as oci from '../packages/core/dist/bundle/oci/index.js';
import { END_OF_ARCHIVE, encodeHeader, paddingFor } from '../packages/core/dist/tar/header.js';

const { values } = parseArgs({
  options: {
    layers: { type: 'string', default: '6' },
    mib: { type: 'string', default: '150' },
    runs: { type: 'string', default: '5' },
  },
});
const layerCount = Number(values.layers);
const totalMiB = Number(values.mib);
const runs = Number(values.runs);
const MiB = 2 ** 20;

const s = (x) => Number(x.toFixed(3));
const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);

/** Deterministic incompressible bytes: AES-CTR of zeros, keyed by `seed`, in 1 MiB chunks. */
function* noise(seed, bytes) {
  const cipher = createCipheriv('aes-128-ctr', Buffer.alloc(16, seed), Buffer.alloc(16, 0));
  const zeros = Buffer.alloc(MiB);
  for (let left = bytes; left > 0; left -= MiB) {
    const out = cipher.update(zeros);
    yield left >= MiB ? out : out.subarray(0, left);
  }
}

/** A layer tar (streamed, never whole in memory): a directory and four files of unequal sizes. */
function* layerTar(i, bytes) {
  const header = { type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 946684800 };
  yield encodeHeader({ ...header, name: `layer-${i}/`, type: 'directory', mode: 0o755, size: 0 });
  const shares = [0.5, 0.25, 0.15];
  const sizes = shares.map((f) => Math.floor(bytes * f) + 123 * (i + 1));
  sizes.push(Math.max(0, bytes - sizes.reduce((a, b) => a + b, 0)));
  for (const [j, size] of sizes.entries()) {
    yield encodeHeader({ ...header, name: `layer-${i}/file-${j}.bin`, size });
    yield* noise(16 * i + j + 1, size);
    yield Buffer.alloc(paddingFor(size));
  }
  yield END_OF_ARCHIVE;
}

async function sha256File(file) {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: MiB })) hash.update(chunk);
  return hash.digest('hex');
}

async function time(fn) {
  const started = performance.now();
  await fn();
  return (performance.now() - started) / 1000;
}

const stats = (xs) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return { min: s(sorted[0]), median: s(sorted[Math.floor(sorted.length / 2)]), runs: xs.map(s) };
};

const work = mkdtempSync(join(tmpdir(), 'wharf-bench-archive-'));
try {
  const store = await openStore({ root: join(work, 'store') });
  const layers = [];
  for (let i = 0; i < layerCount; i++) {
    // unequal layers, like a real image: 1.5×, 1.25×, …, down to 0.25× the mean
    const weight = 1.5 - (1.25 * i) / Math.max(1, layerCount - 1);
    const bytes = Math.round((totalMiB * MiB * weight) / layerCount / ((1.5 + 0.25) / 2));
    const { digest, size } = await store.put(layerTar(i, bytes));
    layers.push(
      images.layerFromStore(store, {
        digest,
        diffId: digest,
        size,
        uncompressedSize: size,
        mediaType: oci.MediaType.ociLayer,
      }),
    );
  }
  const image = images.appendLayers(images.emptyImage(), ...layers);
  const input = { image, names: ['bench/archive:latest'] };
  const layerMiB = (await Promise.all(layers.map((l) => l.size()))).reduce((a, b) => a + b, 0) / MiB;
  log(`${layerCount} layers, ${layerMiB.toFixed(1)} MiB in ${work}`);

  const dockerFile = join(work, 'docker.tar');
  const ociFile = join(work, 'oci.tar');
  const copyFile = join(work, 'copy.tar');
  // one untimed round first: module warm-up, JIT, and the store's blobs into the page cache
  await archive.writeDockerArchive(dockerFile, input);
  await archive.writeOciArchive(ociFile, input);

  const docker = [];
  const ociTimes = [];
  const cp = [];
  for (let r = 0; r < runs; r++) {
    docker.push(await time(() => archive.writeDockerArchive(dockerFile, input)));
    ociTimes.push(await time(() => archive.writeOciArchive(ociFile, input)));
    rmSync(copyFile, { force: true });
    cp.push(
      await time(async () => {
        const result = spawnSync('cp', [dockerFile, copyFile]);
        if (result.status !== 0) throw new Error(`cp failed: ${result.stderr}`);
      }),
    );
  }
  const result = {
    bench: 'archive',
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30) },
    layers: layerCount,
    layerMiB: s(layerMiB),
    dockerArchive: {
      mib: s(statSync(dockerFile).size / MiB),
      seconds: stats(docker),
      sha256: await sha256File(dockerFile),
    },
    ociArchive: {
      mib: s(statSync(ociFile).size / MiB),
      seconds: stats(ociTimes),
      sha256: await sha256File(ociFile),
    },
    cp: { seconds: stats(cp) },
    maxRssMiB: s(process.resourceUsage().maxRSS / 1024),
  };
  log(
    `docker-archive ${result.dockerArchive.seconds.median} s, oci-archive ${result.ociArchive.seconds.median} s, cp ${result.cp.seconds.median} s (medians of ${runs})`,
  );
  console.log(JSON.stringify(result));
} finally {
  rmSync(work, { recursive: true, force: true });
}
