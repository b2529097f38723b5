// Benchmark: extracting one layer tar (runtime/extract.ts, overlay format, as RUN steps do) and
// indexing it (layer/fs-view.ts readLayerRecords, as the engine's view cache does), against GNU
// `tar -xf` of the same tar into a fresh directory.
//   pnpm -s build && node bench/extract.mjs [--files 3000] [--kib 13] [--big 2] [--big-mib 8] [--runs 5] [--dir /dev/shm]
// The tar is written with wharf's own header encoder (tar/header.ts, byte-identical to tar-stream):
// `--files` small files of `--kib` KiB in directories of 100, plus `--big` files of `--big-mib` MiB.
// It is read with a 1 MiB highWaterMark, as the snapshotter's store reads are. Run as root for owners
// and overlay whiteouts (extractLayer defaults to owners when root, like GNU tar). `--runs` rounds take
// turns (extractLayer, readLayerRecords, tar -xf); medians and minimums. `--dir` picks where the tar and
// the outputs go: /dev/shm (tmpfs) measures the work itself, the default tmpdir also the disk, whose
// writeback soon dominates on a small VM (both tools then take seconds). Prints one JSON line.
import { spawnSync } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import {
  closeSync,
  createReadStream,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readLayerRecords } from '../packages/core/dist/layer/fs-view.js';
import { extractLayer } from '../packages/core/dist/runtime/extract.js';
import { encodeHeader, paddingFor } from '../packages/core/dist/tar/header.js';
import { log, machine, s, tempDir } from './lib.mjs';

const { values } = parseArgs({
  options: {
    files: { type: 'string', default: '3000' },
    kib: { type: 'string', default: '13' },
    big: { type: 'string', default: '2' },
    'big-mib': { type: 'string', default: '8' },
    runs: { type: 'string', default: '5' },
    dir: { type: 'string' },
  },
});
const files = Number(values.files);
const kib = Number(values.kib);
const big = Number(values.big);
const bigMiB = Number(values['big-mib']);
const runs = Number(values.runs);
const MIB = 1 << 20;

const work = values.dir ? mkdtempSync(join(values.dir, 'wharf-bench-extract-')) : tempDir('extract');
const tarPath = join(work, 'layer.tar');

/** Deterministic incompressible bytes (AES-256-CTR keystream of a fixed key). */
function keystream(seed) {
  const key = createHash('sha256').update(`wharf-bench:${seed}`).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return (n) => cipher.update(Buffer.alloc(n));
}

function writeLayerTar() {
  const fd = openSync(tarPath, 'w');
  const bytes = keystream('extract');
  const mtime = 1_700_000_000;
  const entry = (header, content) => {
    writeSync(fd, encodeHeader({ uid: 0, gid: 0, mtime, size: 0, ...header }));
    if (!content) return;
    writeSync(fd, content);
    const pad = paddingFor(content.byteLength);
    if (pad > 0) writeSync(fd, Buffer.alloc(pad));
  };
  entry({ name: 'app/', type: 'directory', mode: 0o755 });
  for (let i = 0; i < files; i++) {
    const dir = `app/m${String(Math.floor(i / 100)).padStart(2, '0')}/`;
    if (i % 100 === 0) entry({ name: dir, type: 'directory', mode: 0o755 });
    const content = bytes(kib * 1024 + (i % 7) * 100); // sizes vary a little, so blocks do not line up
    entry(
      { name: `${dir}f${String(i).padStart(4, '0')}.js`, type: 'file', mode: 0o644, size: content.length },
      content,
    );
    if (i % 500 === 1) entry({ name: `${dir}link${i}`, type: 'symlink', mode: 0o777, linkname: `f${i}.js` });
  }
  entry({ name: 'opt/', type: 'directory', mode: 0o755 });
  for (let i = 0; i < big; i++) {
    const name = `opt/big${i}.bin`;
    const size = bigMiB * MIB;
    writeSync(fd, encodeHeader({ name, type: 'file', mode: 0o755, uid: 0, gid: 0, mtime, size }));
    for (let left = size; left > 0; left -= MIB) writeSync(fd, bytes(Math.min(MIB, left)));
    const pad = paddingFor(size);
    if (pad > 0) writeSync(fd, Buffer.alloc(pad));
  }
  writeSync(fd, Buffer.alloc(1024));
  closeSync(fd);
}

const open = () => createReadStream(tarPath, { highWaterMark: MIB });
let n = 0;
function freshDir() {
  const dir = join(work, `out${n++}`);
  mkdirSync(dir);
  return dir;
}

/** Seconds → { median, min }. */
function summary(seconds) {
  const sorted = [...seconds].sort((a, b) => a - b);
  return {
    median: Number(sorted[Math.floor(sorted.length / 2)].toFixed(3)),
    min: Number(sorted[0].toFixed(3)),
  };
}

async function timed(fn) {
  const started = performance.now();
  await fn();
  return (performance.now() - started) / 1000;
}

try {
  writeLayerTar();
  const tarMiB = statSync(tarPath).size / MIB;
  log(`layer.tar: ${tarMiB.toFixed(1)} MiB, ${files} × ${kib} KiB + ${big} × ${bigMiB} MiB; ${runs} rounds`);
  // warm-up: page cache, JIT
  await extractLayer(open(), freshDir(), { format: 'overlay' });
  await readLayerRecords(open());
  // The three take turns, so that other load on the machine hits them alike. Output directories are
  // removed at the end only: deleting 40 MB between runs made the next run wait for the disk.
  const times = { extract: [], records: [], tar: [] };
  let entries = 0;
  let records = 0;
  for (let i = 0; i < runs; i++) {
    const extractDir = freshDir();
    times.extract.push(
      await timed(async () => {
        entries = (await extractLayer(open(), extractDir, { format: 'overlay' })).entries;
      }),
    );
    times.records.push(
      await timed(async () => {
        records = (await readLayerRecords(open())).length;
      }),
    );
    const tarDir = freshDir();
    times.tar.push(
      await timed(() => {
        const result = spawnSync('tar', ['-xf', tarPath, '-C', tarDir]);
        if (result.status !== 0) throw new Error(`tar -xf failed: ${result.stderr}`);
      }),
    );
  }
  const extract = summary(times.extract);
  const index = summary(times.records);
  const gnuTar = summary(times.tar);
  console.log(
    JSON.stringify({
      phase: 'extract layer',
      files,
      kib,
      big,
      bigMiB,
      tarMiB: s(tarMiB),
      entries,
      records,
      runs,
      extractLayer: extract,
      readLayerRecords: index,
      gnuTarX: gnuTar,
      ratio: Number((extract.median / gnuTar.median).toFixed(2)),
      root: process.getuid?.() === 0,
      machine: machine(),
    }),
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
