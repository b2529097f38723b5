// Benchmark (issue 17): the time `--sbom --provenance --sign key=…` adds to a COPY-heavy Node build and
// push. Target: under 10 % of the build.
//   pnpm -s build && node bench/supply-chain.mjs [--runs 3] [--packages 1500] [--context DIR] [--base REF]
// The context is a node_modules tree (default: generated, N packages × 10 files of ~6 KiB plus a
// package.json each, pseudo-random so gzip works; --context DIR uses an existing app instead, e.g.
// ~/.cache/wharf-bench/copy-heavy/ that copy-heavy.mjs makes). Each run builds `FROM <base>` (default
// scratch; --base node:20-alpine pulls it through the loopback mirror) + `COPY . /app` with a fresh
// --cache-dir and pushes to a fresh loopback docker-registry, so plain and attested runs do the same
// work; they alternate (plain, attested, plain, …) so load on the machine hits both alike. The whole CLI
// process is timed. On a shared machine the difference of two ~15 s runs is mostly noise, so the added
// work is also timed alone, in-process, on the same image already pushed, in its two parts: what a build
// makes while the push runs (`sign.prepareAttestations`: catalogue + SPDX, provenance, three DSSE
// signatures) and the referrers (`sign.attachPrepared`: six files, five manifests, the tag fallback
// written once; in a build the files go up while the push runs, only the manifests wait for it); median of the runs, and the first prepare apart (it loads the modules, as the CLI does once).
// The CLI's CPU time (user + system, all threads) is reported beside its wall time: steadier under load.
// Prints a table and one JSON line: medians and the ratios to the plain build + push, and the load average.
// Requires docker-registry and openssl.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readLayout } from '../packages/core/dist/bundle/layout/index.js';
import { pushImage } from '../packages/core/dist/bundle/registry/index.js';
import { catalogueImage } from '../packages/core/dist/bundle/sbom/index.js';
import * as sign from '../packages/core/dist/bundle/sign/index.js';
import { openStore } from '../packages/core/dist/store/index.js';
import { discard, log, MIRROR, machine, prng, run, s, startRegistry, table, tempDir, WHARF } from './lib.mjs';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    packages: { type: 'string', default: '1500' },
    context: { type: 'string' },
    base: { type: 'string', default: 'scratch' },
  },
});
const runs = Number(values.runs);

// The CLI's CPU time (user + system, every thread: getrusage of the process), printed on exit by a
// preloaded hook: steadier than wall time on a shared machine.
const CPU_HOOK =
  "data:text/javascript,process.on('exit',()=>{const u=process.cpuUsage();process.stderr.write('\\nwharf-bench-cpu '+(u.user+u.system)/1e6+'\\n')})";
/** Runs the CLI; `cpu` is its CPU seconds. */
async function wharf(args) {
  const result = await run(process.execPath, ['--import', CPU_HOOK, WHARF, ...args]);
  const cpu = Number(/wharf-bench-cpu ([\d.]+)/.exec(result.stderr)?.[1]);
  return { ...result, cpu };
}

/** An object's methods, bound, as own properties (images and layers are classes). */
function bind(object) {
  const out = {};
  for (let proto = object; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const key of Object.getOwnPropertyNames(proto)) {
      if (key !== 'constructor' && !(key in out) && typeof object[key] === 'function')
        out[key] = object[key].bind(object);
    }
  }
  return out;
}
const work = tempDir('supply-chain');

/** N packages under node_modules, each a package.json and ten ~6 KiB files of pseudo-random text. */
function writeNodeModules(dir, count) {
  const random = prng(0x5c17);
  for (let i = 0; i < count; i++) {
    const name = `pkg-${String(i).padStart(4, '0')}`;
    const pkg = join(dir, 'node_modules', name);
    mkdirSync(join(pkg, 'lib'), { recursive: true });
    writeFileSync(
      join(pkg, 'package.json'),
      JSON.stringify({ name, version: `1.${i % 10}.${i % 7}`, license: 'MIT', main: 'lib/index.js' }),
    );
    for (let f = 0; f < 10; f++) {
      const words = [];
      for (let w = 0; w < 700; w++) words.push(random().toString(36));
      writeFileSync(join(pkg, 'lib', `m${f}.js`), `module.exports = ${JSON.stringify(words.join(' '))};\n`);
    }
  }
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'bench-app', version: '1.0.0' }));
}

try {
  const context = values.context ?? join(work, 'ctx');
  if (!values.context) {
    writeNodeModules(context, Number(values.packages));
    log(`generated ${values.packages} packages under ${context}/node_modules`);
  }
  const dockerfile = join(work, 'Dockerfile');
  writeFileSync(dockerfile, `FROM ${values.base}\nCOPY . /app\n`);
  const key = join(work, 'cosign.key');
  execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);

  const times = { plain: [], attested: [] };
  const cpu = { plain: [], attested: [] };
  for (let i = 0; i < runs; i++) {
    for (const kind of ['plain', 'attested']) {
      const registry = await startRegistry();
      const cacheDir = join(work, `cache-${kind}-${i}`);
      const extra = kind === 'attested' ? ['--sbom', '--provenance', '--sign', `key=${key}`] : [];
      const result = await wharf([
        'build',
        '-f',
        dockerfile,
        context,
        '--push',
        '-t',
        `${registry.host}/bench/app:${kind}`,
        '--registry-mirror',
        MIRROR,
        '--lint',
        'off',
        '--cache-dir',
        cacheDir,
        '--progress',
        'quiet',
        ...extra,
      ]);
      times[kind].push(result.seconds);
      cpu[kind].push(result.cpu);
      log(`run ${i + 1} ${kind}: ${s(result.seconds)} s, CPU ${s(result.cpu)} s`);
      await registry.stop();
      discard(cacheDir);
    }
  }
  // The added work alone: the image built once into a layout and pushed (untimed), then prepare + attach.
  const layout = join(work, 'layout');
  await wharf([
    'build',
    '-f',
    dockerfile,
    context,
    '-o',
    `type=oci,dest=${layout}`,
    '--registry-mirror',
    MIRROR,
    '--lint',
    'off',
    '--cache-dir',
    join(work, 'cache-layout'),
    '--progress',
    'quiet',
  ]);
  const fromLayout = await readLayout(layout);
  // What a build hands to prepareAttestations: the layers' tars as the store keeps them (the engine
  // writes them uncompressed; pulled bases are kept on first read), the compressed blobs pushed.
  const store = await openStore({ root: join(work, 'store') });
  const storeLayers = [];
  for (const layer of await fromLayout.layers()) {
    const diffId = await layer.diffId();
    await store.put(await layer.uncompressed(), diffId);
    storeLayers.push({ ...bind(layer), uncompressed: () => store.open(diffId) });
  }
  const image = { ...bind(fromLayout), layers: async () => storeLayers };
  // The SBOM's catalogue alone: streamed through gunzip (the layout's blobs) and from the stored tars.
  const catalogued = { gzip: [], stored: [] };
  for (let i = 0; i < runs; i++) {
    for (const [form, from] of [
      ['gzip', fromLayout],
      ['stored', image],
    ]) {
      const started = performance.now();
      const { packages } = await catalogueImage(from);
      catalogued[form].push((performance.now() - started) / 1000);
      log(`run ${i + 1} catalogue (${form}): ${s(catalogued[form].at(-1))} s, ${packages.length} packages`);
    }
  }
  const registry = await startRegistry();
  const alone = [];
  const prepared = [];
  const attached = [];
  try {
    for (let i = 0; i < runs; i++) {
      const name = `${registry.host}/bench/alone${i}:1`;
      await pushImage(fromLayout, name);
      const started = performance.now();
      // what a build makes while it pushes (catalogue + SPDX, provenance, three DSSE signatures) …
      const ready = await sign.prepareAttestations(image, [name], {
        sbom: 'spdx-json',
        provenance: {
          mode: 'min',
          definition: { path: dockerfile, digest: await image.digest() },
          platforms: ['linux/amd64'],
          builder: { id: 'https://wharf.dev/builder/bench', version: '0' },
          startedOn: new Date(),
        },
        sign: { kind: 'key', keyFile: key },
      });
      const middle = performance.now();
      // … and the referrers: six files (uploaded during the push in a build), five manifests, the tag
      await sign.attachPrepared(ready, [name]);
      const ended = performance.now();
      prepared.push((middle - started) / 1000);
      attached.push((ended - middle) / 1000);
      alone.push((ended - started) / 1000);
      log(`run ${i + 1} alone: prepare ${s(prepared.at(-1))} s + attach ${s(attached.at(-1))} s`);
    }
  } finally {
    await registry.stop();
  }

  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const plain = median(times.plain);
  const attested = median(times.attested);
  const ratio = (attested - plain) / plain;
  const cpuPlain = median(cpu.plain);
  const cpuAttested = median(cpu.attested);
  const cpuRatio = (cpuAttested - cpuPlain) / cpuPlain;
  const load = loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');
  const aloneMedian = median(alone);
  table([
    { phase: 'build + push', seconds: plain, runs: times.plain.map(s).join(' ') },
    {
      phase: 'build + push --sbom --provenance --sign key=',
      seconds: attested,
      runs: times.attested.map(s).join(' '),
    },
    { phase: 'added (difference of medians)', seconds: attested - plain, runs: `${s(ratio * 100)} %` },
    { phase: 'CPU time, build + push', seconds: cpuPlain, runs: cpu.plain.map(s).join(' ') },
    {
      phase: 'CPU time, with --sbom --provenance --sign key=',
      seconds: cpuAttested,
      runs: cpu.attested.map(s).join(' '),
    },
    {
      phase: 'CPU time added (difference of medians)',
      seconds: cpuAttested - cpuPlain,
      runs: `${s(cpuRatio * 100)} %`,
    },
    {
      phase: 'added, timed alone (prepare + attach)',
      seconds: aloneMedian,
      runs: `${alone.map(s).join(' ')} = ${s((aloneMedian / plain) * 100)} %`,
    },
    {
      phase: '  prepare (made while the push runs)',
      seconds: median(prepared),
      runs: prepared.map(s).join(' '),
    },
    {
      phase: '  prepare, first run (its modules loading, as in the CLI)',
      seconds: prepared[0],
      runs: '',
    },
    {
      phase: '  SBOM catalogue, layers gunzipped',
      seconds: median(catalogued.gzip),
      runs: catalogued.gzip.map(s).join(' '),
    },
    {
      phase: '  SBOM catalogue, stored tars',
      seconds: median(catalogued.stored),
      runs: catalogued.stored.map(s).join(' '),
    },
    {
      phase: '  attach (after the push)',
      seconds: median(attached),
      runs: `${attached.map(s).join(' ')} = ${s((median(attached) / plain) * 100)} %`,
    },
  ]);
  console.log(
    JSON.stringify({
      bench: 'supply-chain',
      base: values.base,
      context: values.context ?? `generated ${values.packages} packages`,
      plainMedianSeconds: s(plain),
      attestedMedianSeconds: s(attested),
      addedRatio: Number(ratio.toFixed(3)),
      plainCpuMedianSeconds: s(cpuPlain),
      attestedCpuMedianSeconds: s(cpuAttested),
      addedCpuRatio: Number(cpuRatio.toFixed(3)),
      loadAverage: load,
      attestAloneMedianSeconds: s(aloneMedian),
      attestAloneRatio: Number((aloneMedian / plain).toFixed(3)),
      prepareMedianSeconds: s(median(prepared)),
      prepareFirstSeconds: s(prepared[0]),
      catalogueGzipMedianSeconds: s(median(catalogued.gzip)),
      catalogueStoredMedianSeconds: s(median(catalogued.stored)),
      attachMedianSeconds: s(median(attached)),
      attachRatio: Number((median(attached) / plain).toFixed(3)),
      machine: machine(),
    }),
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
