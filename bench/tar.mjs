// Benchmark: wharf's tar code (tar/reader.ts, tar/header.ts + tar/output.ts) against tar-stream 3 on the
// same in-memory tar, to decide where tar-stream still serves (see packages/core/src/tar/README.md).
//   pnpm -s build && node bench/tar.mjs [--files 3000] [--kib 13] [--runs 7]
// Reading: every member's content is visited (a layer extract's parse work without the disk).
// Writing: the same members written as one tar (headers + content + padding) to a sink that counts
// the bytes (wharf's writer with its buffer pool, as the layer and archive writers use it).
// Prints one JSON line: median and minimum seconds of each, and MB/s over the tar's size.
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { END_OF_ARCHIVE, headerLength, paddingFor } from '../packages/core/dist/tar/header.js';
import { BufferPool, TarOutput } from '../packages/core/dist/tar/output.js';
import { TarReader } from '../packages/core/dist/tar/reader.js';
import { machine } from './lib.mjs';

// tar-stream is a dependency of @wharf/core (for its testing helpers), not of bench/
const { extract, pack } = createRequire(new URL('../packages/core/package.json', import.meta.url))(
  'tar-stream',
);

const { values } = parseArgs({
  options: {
    files: { type: 'string', default: '3000' },
    kib: { type: 'string', default: '13' },
    runs: { type: 'string', default: '7' },
  },
});
const files = Number(values.files);
const size = Number(values.kib) * 1024;
const runs = Number(values.runs);
const content = Buffer.alloc(size, 'wharf');
const members = Array.from({ length: files }, (_, i) => ({
  name: `app/dir${Math.floor(i / 100)}/file-${i}.js`,
  type: 'file',
  mode: 0o644,
  uid: 0,
  gid: 0,
  size,
  mtime: 1_700_000_000,
}));

/** Writes the tar; `sink` gets each chunk (the chunk's buffer is reused after it returns when pooled). */
function writeWharf(sink, pool) {
  const out = new TarOutput(pool);
  const chunks = {
    push(chunk) {
      sink(chunk);
      pool?.release(chunk);
    },
  };
  for (const header of members) {
    const length = headerLength(header);
    for (const chunk of out.reserve(length)) chunks.push(chunk);
    out.header(header, length);
    for (const chunk of out.copy(content)) chunks.push(chunk);
    for (const chunk of out.zeros(paddingFor(size))) chunks.push(chunk);
  }
  for (const chunk of out.copy(END_OF_ARCHIVE)) chunks.push(chunk);
  chunks.push(out.take());
}

async function writeTarStream(sink) {
  const tar = pack();
  const done = (async () => {
    for await (const chunk of tar) sink(chunk);
  })();
  for (const h of members) {
    await new Promise((resolve, reject) =>
      tar.entry({ ...h, mtime: new Date(h.mtime * 1000) }, content, (e) => (e ? reject(e) : resolve())),
    );
  }
  tar.finalize();
  await done;
}

/** The bytes a writer produced. */
async function collect(write) {
  const chunks = [];
  await write((chunk) => chunks.push(Buffer.from(chunk)));
  return Buffer.concat(chunks);
}

/** A sink that only counts (as a file writer hands chunks to the kernel). */
const written = { bytes: 0 };
const count = (chunk) => {
  written.bytes += chunk.byteLength;
};

function chunksOf(buf) {
  const out = [];
  for (let i = 0; i < buf.byteLength; i += 1024 * 1024) out.push(buf.subarray(i, i + 1024 * 1024));
  return out;
}

async function readWharf(tar) {
  const reader = new TarReader(chunksOf(tar));
  let bytes = 0;
  for await (const _ of reader) for await (const piece of reader.content()) bytes += piece.byteLength;
  return bytes;
}

async function readTarStream(tar) {
  const ex = extract();
  let bytes = 0;
  const done = (async () => {
    for await (const entry of ex) for await (const piece of entry) bytes += piece.byteLength;
  })();
  for (const chunk of chunksOf(tar)) ex.write(chunk);
  ex.end();
  await done;
  return bytes;
}

async function time(fn) {
  const started = performance.now();
  await fn();
  return (performance.now() - started) / 1000;
}

const tar = await collect((sink) => writeWharf(sink, undefined));
if (!tar.equals(await collect(writeTarStream))) throw new Error('the two writers disagree');
const pool = new BufferPool();
const results = { write: { wharf: [], tarStream: [] }, read: { wharf: [], tarStream: [] } };
for (let i = 0; i < runs; i++) {
  results.write.wharf.push(await time(() => writeWharf(count, pool)));
  results.write.tarStream.push(await time(() => writeTarStream(count)));
  results.read.wharf.push(await time(() => readWharf(tar)));
  results.read.tarStream.push(await time(() => readTarStream(tar)));
}
const mb = tar.byteLength / 1e6;
const summary = (xs) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  return { median: +median.toFixed(4), min: +sorted[0].toFixed(4), mbPerS: Math.round(mb / median) };
};
console.log(
  JSON.stringify({
    machine: machine(),
    files,
    kib: size / 1024,
    tarMB: +mb.toFixed(1),
    write: { wharf: summary(results.write.wharf), tarStream: summary(results.write.tarStream) },
    read: { wharf: summary(results.read.wharf), tarStream: summary(results.read.tarStream) },
  }),
);
