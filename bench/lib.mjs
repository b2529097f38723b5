// Shared helpers for the side-by-side benchmarks (node-app.mjs, run-heavy.mjs, push.mjs).
// Plain Node ESM, no build step; the benchmarks run the compiled CLI in packages/cli/dist.
import { spawn } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { cpus, homedir, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const WHARF = join(ROOT, 'packages/cli/dist/main.js');
/** Debian's 20.10 client (the one in /usr/local/bin is a different build); override with DOCKER. */
export const DOCKER = process.env.DOCKER || '/usr/bin/docker';
export const MIRROR = process.env.WHARF_BENCH_MIRROR || 'http://127.0.0.1:5151';

/**
 * The COPY-heavy Node app context copy-heavy.mjs makes once and keeps (package.json, node_modules, src/):
 * ~/.cache/wharf-bench/copy-heavy, or under $XDG_CACHE_HOME. Other benches build it too (zstd.mjs).
 */
export const COPY_HEAVY_CONTEXT = join(
  process.env.XDG_CACHE_HOME || join(homedir(), '.cache'),
  'wharf-bench',
  'copy-heavy',
);

export function machine() {
  return { cpus: cpus().length, cpuModel: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30) };
}

/**
 * Runs a command to completion and returns its wall time in seconds (and its output).
 * Throws with the tail of stderr when it exits non-zero.
 */
export function run(cmd, args, opts = {}) {
  return new Promise((resolveRun, reject) => {
    const started = performance.now();
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: { ...process.env, ...(opts.env ?? {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    // Arrival time (s since spawn) of each stderr line: a timeline for `--progress json` events.
    const lines = [];
    let partial = '';
    child.stdout.on('data', (b) => {
      stdout += b;
      if (opts.echo) process.stderr.write(b);
    });
    child.stderr.on('data', (b) => {
      stderr += b;
      const t = (performance.now() - started) / 1000;
      const parts = (partial + b).split('\n');
      partial = parts.pop();
      for (const text of parts) lines.push({ t, text });
      if (opts.echo) process.stderr.write(b);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = (performance.now() - started) / 1000;
      if (code !== 0 && !opts.allowFail) {
        reject(new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${(stderr || stdout).slice(-4000)}`));
      } else resolveRun({ seconds, stdout, stderr, code, lines });
    });
  });
}

/**
 * The built core's entry points: `core` (the root), `engine` (`@wharf/core/engine`) and `output` (`/export`),
 * and `buildDigest(graph, options)`: the direct build of a graph plus its digest (every new layer gzipped).
 * Builds from before the subpath exports had all of it at the root (`buildGraph`), for before/after runs.
 */
export async function loadCore() {
  const core = await import(join(ROOT, 'packages/core/dist/bundle/index.js'));
  const sub = (name) => import(join(ROOT, `packages/core/dist/bundle/${name}/index.js`)).catch(() => core);
  const [engine, output] = [await sub('engine'), await sub('export')];
  const buildDigest = engine.buildImage
    ? async (graph, options) => {
        const built = await engine.buildImage(graph, { compressEarly: true, ...options });
        return { ...built, digest: await built.image.digest() };
      }
    : core.buildGraph;
  return { core, engine, output, buildDigest };
}

export const wharf = (args, opts) => run(process.execPath, [WHARF, ...args], opts);

/**
 * A wharf CLI (`cli`: its main.js, default this checkout's) run under GNU time: {@link run}'s result
 * plus `cpu`, the process's user + system seconds (all threads), steadier than wall time on a shared machine.
 */
export async function wharfTimed(args, opts = {}, cli = WHARF) {
  const result = await run(
    '/usr/bin/time',
    ['-f', 'wharf-bench-cpu %U %S', process.execPath, cli, ...args],
    opts,
  );
  const cpu = /wharf-bench-cpu (\S+) (\S+)/.exec(result.stderr);
  return { ...result, cpu: Number(cpu[1]) + Number(cpu[2]) };
}
export const docker = (args, opts) =>
  run(DOCKER, args, { ...opts, env: { DOCKER_BUILDKIT: '1', ...(opts?.env ?? {}) } });

export function tempDir(prefix) {
  return mkdtempSync(join(tmpdir(), `wharf-bench-${prefix}-`));
}

let trash;
/**
 * Removes a run's directory when the benchmark ends, not now: it is moved aside at once (a rename). On
 * ext4 without a journal (this machine's disk), every inode created for the next minutes skips the
 * inode-table slots of recently deleted files (the kernel's `recently_deleted`): after deleting a
 * run's ~100 000-file cache, creating 5 000 files in /tmp took 2.5–3 s of kernel time instead of 0.3 s,
 * and that landed on whichever tool ran next in the same directory tree.
 */
export function discard(dir) {
  if (!trash) {
    trash = tempDir('trash');
    process.on('exit', () => rmSync(trash, { recursive: true, force: true }));
  }
  try {
    renameSync(dir, join(trash, `${Date.now()}-${Math.random().toString(36).slice(2)}`));
  } catch {
    rmSync(dir, { recursive: true, force: true }); // gone already, or on another filesystem
  }
}

/** Deterministic pseudo-random bytes (AES-256-CTR keystream of a fixed key): fast and incompressible. */
export function writeRandomFile(path, bytes, seed) {
  const key = createHash('sha256').update(`wharf-bench:${seed}`).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const zero = Buffer.alloc(1 << 20);
  const fd = openSync(path, 'w');
  for (let left = bytes; left > 0; left -= zero.length) {
    writeSync(fd, cipher.update(left >= zero.length ? zero : zero.subarray(0, left)));
  }
  closeSync(fd);
}

/** A seeded xorshift PRNG, for generated "source" files that compress like real code. */
export function prng(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

const WORDS =
  'const let return function async await import export default from if else for while new this class extends value result error options config request response handler user item list map filter reduce push length string number'.split(
    ' ',
  );

/** `count` JS-looking files of about `bytesEach` bytes, in dirs of 100, under `dir`. Deterministic. */
export function writeSourceTree(dir, count, bytesEach) {
  const rand = prng(0x5eed);
  for (let i = 0; i < count; i++) {
    const sub = join(dir, `m${String(Math.floor(i / 100)).padStart(2, '0')}`);
    if (i % 100 === 0) mkdirSync(sub, { recursive: true });
    let text = `// generated module ${i}\n`;
    let n = 0;
    while (text.length < bytesEach) {
      const words = [];
      for (let w = 0; w < 8; w++) words.push(WORDS[rand() % WORDS.length]);
      text += `export const v${i}_${n++} = ${JSON.stringify(words.join(' '))} + 0x${rand().toString(16)};\n`;
    }
    writeFileSync(join(sub, `f${String(i).padStart(4, '0')}.js`), text);
  }
}

export function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolvePort(port));
    });
  });
}

function answers(url) {
  return new Promise((ok) => {
    const req = request(`${url}/v2/`, { timeout: 2000 }, (res) => {
      res.resume();
      ok(res.statusCode === 200);
    });
    req.on('error', () => ok(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** A throwaway Debian `docker-registry` (distribution 2.8) on a free loopback port; stop() removes it. */
export async function startRegistry() {
  const port = await freePort();
  const dir = tempDir('registry');
  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log: { level: warn, accesslog: { disabled: true } }',
      `storage: { filesystem: { rootdirectory: ${JSON.stringify(join(dir, 'storage'))} }, maintenance: { uploadpurging: { enabled: false } } }`,
      `http: { addr: "127.0.0.1:${port}" }`,
      '',
    ].join('\n'),
  );
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('REGISTRY_')));
  const child = spawn('docker-registry', ['serve', config], { stdio: 'ignore', env });
  const exited = new Promise((r) => child.once('exit', r));
  const kill = () => child.kill('SIGKILL');
  process.on('exit', kill);
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; !(await answers(url)); i++) {
    if (i > 100 || child.exitCode !== null) throw new Error('docker-registry did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    host: `127.0.0.1:${port}`,
    url,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      process.off('exit', kill);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const s = (x) => Number(x.toFixed(2));

/** Prints rows ({name, ...columns}) as an aligned table on stdout. */
export function table(rows) {
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v) => (v === undefined ? '' : typeof v === 'number' ? v.toFixed(2) : String(v));
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals) => vals.map((v, i) => v.padEnd(width[i])).join('  ');
  console.log(line(cols));
  console.log(line(width.map((w) => '-'.repeat(w))));
  for (const r of rows) console.log(line(cols.map((c) => cell(r[c]))));
}

export const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);

/**
 * `sync` before a timed phase: the previous phase (of either tool) leaves hundreds of MB of dirty pages,
 * and their writeback slows whatever creates files next (3000-file RUN steps took 1.5 s or 5 s
 * depending on what ran before). Each phase then starts from the same state; nothing is timed here.
 */
export async function settle() {
  await run('sync', []);
}

/** The step-finished events of a `--progress json` run, slowest first, with when each line arrived. */
export function slowSteps(result, n = 6) {
  const steps = [];
  for (const { t, text } of result.lines ?? []) {
    if (!text.startsWith('{')) continue;
    try {
      const e = JSON.parse(text);
      if (e.type === 'step-finished')
        steps.push({
          step: `[${e.stage} ${e.step}] ${e.text.slice(0, 60)}`,
          ms: e.ms,
          at: s(t),
          cached: !!e.cached,
          ...(e.phases ? { phases: e.phases } : {}),
        });
    } catch {}
  }
  return steps.sort((a, b) => b.ms - a.ms).slice(0, n);
}

/**
 * The lines every side-by-side benchmark prints after its table: archive sizes, the in-process
 * timings, and each named wharf run's slowest steps with its event span.
 */
export function printDetails({ wharfOut, dockerOut, inProc, runs }) {
  console.log(`\nwharf archive ${mibOf(wharfOut)} MiB, docker save ${mibOf(dockerOut)} MiB`);
  console.log('in-process (s):', JSON.stringify(inProc));
  for (const [name, result, n] of runs) {
    console.log(
      `wharf ${name}, slowest steps:`,
      JSON.stringify(slowSteps(result, n)),
      JSON.stringify(eventSpan(result)),
    );
  }
}

/** A file's size in MiB (two decimals). */
export function mibOf(file) {
  return s(statSync(file).size / 2 ** 20);
}

/** When the first and last JSON events arrived (s since spawn): startup before, export/exit after. */
export function eventSpan(result) {
  const events = (result.lines ?? []).filter((l) => l.text.startsWith('{'));
  const ts = events.map((l) => l.t);
  // Mirror fallbacks and warnings explain a slow start (a registry retried, a source refused).
  const notable = events
    .filter((l) => /"type":"(mirror-fallback|warning|retry)"/.test(l.text))
    .map((l) => `${s(l.t)} ${l.text.slice(0, 160)}`);
  return ts.length
    ? {
        firstEvent: s(ts[0]),
        lastEvent: s(ts[ts.length - 1]),
        exit: s(result.seconds),
        ...(notable.length ? { notable } : {}),
      }
    : {};
}

/**
 * An in-process no-change rebuild: the definition is loaded (build.ts through the CLI's loader, or a
 * Dockerfile through lowerDockerfile), then the direct build is timed alone, twice (the first call in a
 * process includes module warm-up), then the export. Returns seconds for each part.
 */
export async function inProcessRebuild({ definition, dockerfile, contextDir, cacheDir, mirror, out }) {
  const { core, output, buildDigest } = await loadCore();
  const t0 = performance.now();
  let graph;
  let dir = contextDir;
  if (dockerfile) {
    const { readFileSync } = await import('node:fs');
    graph = core.lowerDockerfile(readFileSync(dockerfile, 'utf8'), { file: dockerfile });
  } else {
    const { loadDefinition } = await import(join(ROOT, 'packages/cli/dist/load-definition.js'));
    const loaded = await loadDefinition(definition);
    graph = loaded.graph;
    dir = loaded.dir;
  }
  const t1 = performance.now();
  const opts = { contextDir: dir, cacheDir, registry: mirror ? { mirrors: [mirror] } : {} };
  const first = await buildDigest(graph, opts);
  const t2 = performance.now();
  const second = await buildDigest(graph, opts);
  const t3 = performance.now();
  await output.exportImage(second.image, output.parseOutput(`type=docker-archive,dest=${out}`), { tags: [] });
  const t4 = performance.now();
  if (first.digest !== second.digest) throw new Error('in-process rebuilds disagree');
  return {
    load: s((t1 - t0) / 1000),
    buildFirst: s((t2 - t1) / 1000),
    buildSecond: s((t3 - t2) / 1000),
    export: s((t4 - t3) / 1000),
    digest: second.digest,
  };
}

/** A table row: a wharf run against BuildKit's build + save, with the speedup (BuildKit ÷ wharf). */
export function sideBySideRow(phase, wharfRun, buildkit, target) {
  return {
    phase,
    wharf: wharfRun.seconds,
    buildkitBuild: buildkit.build,
    buildkitSave: buildkit.save,
    buildkitTotal: buildkit.total,
    speedup: buildkit.total / wharfRun.seconds,
    target,
  };
}

/** The same comparison for the JSON summary line. */
export function sideBySideJson(wharfRun, buildkit) {
  return {
    wharf: s(wharfRun.seconds),
    buildkit: s(buildkit.total),
    buildkitBuildOnly: s(buildkit.build),
    speedup: s(buildkit.total / wharfRun.seconds),
  };
}

/** BuildKit's side of a comparison: `docker build -q -t TAG -f DOCKERFILE CONTEXT`, then `docker save`. */
export function buildkitBuildAndSave({ tag, dockerfile, context, out }) {
  return async () => {
    const build = await docker(['build', '-q', '-t', tag, '-f', dockerfile, context]);
    const save = await docker(['save', '-o', out, tag]);
    return { build: build.seconds, save: save.seconds, total: build.seconds + save.seconds };
  };
}

/** The cold pair: wharf (its own fresh cache), then BuildKit after `docker builder prune -af`. */
export async function coldPair(wharfBuild, buildkit, tag) {
  log('wharf cold build…');
  await settle();
  const wharfRun = await wharfBuild();
  log('BuildKit cold build (after docker builder prune -af)…');
  await docker(['rmi', '-f', tag], { allowFail: true });
  await docker(['builder', 'prune', '-af']);
  await settle();
  return { wCold: wharfRun, dCold: await buildkit() };
}
