#!/usr/bin/env node
// Conformance run over a folder of Dockerfiles (kept outside the repository: they are others' code):
// for each file, `wharf dockerfile --check` (lower + validate), `wharf convert` (build.ts), compile the
// build.ts back (load it, toGraph), and compare the lowered IR of the original with the build.ts's, for
// the default target and for every named stage as --target. With --typecheck, the generated files also go
// through `tsc --strict --noUnusedLocals` and Biome's recommended rules. Prints a table of the counts per
// phase and each failure (the first 40; all with --verbose).
//
//   pnpm -s build && node scripts/dockerfile-corpus.mjs /work/corpus [--typecheck] [--verbose]
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { writeGeneratedChecks } from './generated-checks.mjs';

const repo = fileURLToPath(new URL('..', import.meta.url));
const core = join(repo, 'packages/core/dist');
const { generateBuildTs, lowerDockerfile, toGraph } = await import(
  pathToFileURL(join(core, 'index.js')).href
);
const { assertValidGraph } = await import(pathToFileURL(join(core, 'ir/validate.js')).href);
const { heredocScript } = await import(pathToFileURL(join(core, 'dockerfile/codegen/index.js')).href);
const { pruneToTarget, resolveStageBases } = await import(pathToFileURL(join(core, 'ir/graph.js')).href);
const { expandWord } = await import(pathToFileURL(join(core, 'ir/expand.js')).href);
const { normalizeScript } = await import(pathToFileURL(join(core, 'ir/script.js')).href);
const { createJiti } = createRequire(join(repo, 'packages/cli/package.json'))('jiti');

const dir = process.argv[2];
const verbose = process.argv.includes('--verbose');
const typecheck = process.argv.includes('--typecheck');
const unknown = process.argv.slice(3).filter((a) => a !== '--verbose' && a !== '--typecheck');
if (!dir || dir.startsWith('--') || unknown.length) {
  process.stderr.write('usage: node scripts/dockerfile-corpus.mjs DIR [--typecheck] [--verbose]\n');
  process.exit(2);
}

/** Every file under `root` whose name says it is a Dockerfile. */
function dockerfiles(root) {
  const out = [];
  for (const name of readdirSync(root).sort()) {
    const path = join(root, name);
    if (statSync(path).isDirectory()) out.push(...dockerfiles(path));
    else if (/dockerfile|containerfile/i.test(name)) out.push(path);
  }
  return out;
}

const ANONYMOUS = /^stage-\d+(-\d+)*$/;

/**
 * The IR as both sides can give it: FROM words that name a stage on linux/amd64 resolved, pruned to the target, anonymous stages named by position, no
 * locations, comments or directives' absence, RUN heredocs as the one script BuildKit runs, a secret's
 * default id written out, keys sorted.
 */
function canonical(graph, target) {
  const pruned = pruneToTarget(resolveStageBases(graph, [globalExpander(graph)]), target);
  const names = new Map(
    pruned.stages.map((s, i) => [s.name, ANONYMOUS.test(s.name) ? `anonymous-${i}` : s.name]),
  );
  const rename = (name) => names.get(name) ?? name;
  const from = (ref) => (ref?.kind === 'stage' ? { kind: 'stage', stage: rename(ref.stage) } : ref);
  const mount = (m) => {
    if (m.type === 'secret' && m.id === undefined) return { ...m, id: m.target?.split('/').at(-1) ?? '' };
    return m.from ? { ...m, from: from(m.from) } : m;
  };
  const instruction = (i) => {
    switch (i.kind) {
      case 'run': {
        const { heredocs, ...rest } = i;
        const [only] = heredocs ?? [];
        // A lone `#!` heredoc is a script file on both sides: its bytes must match exactly (the
        // delimiter's name and quoting are the author's; convert writes EOF).
        const script =
          heredocs?.length === 1 && /^<<-?(["']?)[^\s"']+\1$/.test(i.command.script?.trim() ?? '')
            ? heredocScript(i.command.script, heredocs)
            : undefined;
        if (only && script?.startsWith('#!'))
          return {
            ...rest,
            command: { form: 'script', content: `${script}\n` },
            ...(i.mounts ? { mounts: i.mounts.map(mount) } : {}),
          };
        const command = heredocs?.length
          ? {
              form: 'shell',
              script: normalizeScript(heredocScript(i.command.script ?? '', heredocs), { join: false }),
            }
          : i.command;
        return { ...rest, command, ...(i.mounts ? { mounts: i.mounts.map(mount) } : {}) };
      }
      case 'copy':
        return i.from ? { ...i, from: from(i.from) } : i;
      case 'onbuild':
        return { ...i, instruction: instruction(i.instruction) };
      default:
        return i;
    }
  };
  const stages = pruned.stages.map((s) => ({
    ...s,
    name: rename(s.name),
    base: s.base.kind === 'stage' ? { kind: 'stage', stage: rename(s.base.stage) } : s.base,
    instructions: s.instructions.map(instruction),
  }));
  const { comments: _, ...rest } = pruned;
  return sorted({ ...rest, stages, target: rename(pruned.target) });
}

/**
 * Expands a FROM word as a linux/amd64 build would (the platform ARGs, then the global ARG defaults), so a
 * `FROM base-${TARGETARCH}` that names a stage is compared as the stage the build uses.
 */
function globalExpander(graph) {
  const values = new Map(
    Object.entries({
      TARGETPLATFORM: 'linux/amd64',
      TARGETOS: 'linux',
      TARGETARCH: 'amd64',
      TARGETVARIANT: '',
      BUILDPLATFORM: 'linux/amd64',
      BUILDOS: 'linux',
      BUILDARCH: 'amd64',
      BUILDVARIANT: '',
    }),
  );
  // as the engine (and BuildKit 20.10): a global ARG without a default is unset, platform ARGs included
  for (const decl of graph.args) {
    if (decl.default === undefined) values.delete(decl.name);
    else
      values.set(
        decl.name,
        expandWord(decl.default, (name) => values.get(name)),
      );
  }
  return (word) => expandWord(word, (name) => values.get(name));
}

function sorted(value) {
  return JSON.stringify(value, (key, v) => {
    if (key === 'source' || key === 'comments') return undefined;
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(
        Object.keys(v)
          .sort()
          .map((k) => [k, v[k]]),
      );
    }
    return v;
  });
}

const firstLine = (error) => String(error?.code ? `${error.code}: ${error.message}` : error).split('\n')[0];

const files = dockerfiles(resolve(dir));
const work = mkdtempSync(join(tmpdir(), 'wharf-corpus-'));
const jiti = createJiti(import.meta.url, {
  alias: { '@wharf/core': join(core, 'index.js') },
  moduleCache: false,
});
const counts = { files: files.length, check: 0, convert: 0, compile: 0, sameDefault: 0, sameAllStages: 0 };
/** Generated build.ts files (`<index>/build.ts` in `work`) → the Dockerfile's name, for --typecheck. */
const generated = new Map();
const stageCounts = { stages: 0, same: 0 };
const failures = [];

for (const [index, file] of files.entries()) {
  const name = relative(resolve(dir), file);
  const fail = (step, error) => failures.push(`${step.padEnd(12)} ${name}: ${firstLine(error)}`);
  let graph;
  try {
    graph = lowerDockerfile(readFileSync(file, 'utf8'), { file: name });
    assertValidGraph(graph);
    counts.check++;
  } catch (error) {
    fail('check', error);
    continue;
  }
  let code;
  try {
    code = generateBuildTs(graph, { sourceName: name });
    counts.convert++;
  } catch (error) {
    fail('convert', error);
    continue;
  }
  const out = join(work, `${index}`);
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'build.ts'), code);
  generated.set(`${index}/build.ts`, name);
  let definition;
  try {
    definition = (await jiti.import(join(out, 'build.ts'))).default;
    toGraph(definition);
    counts.compile++;
  } catch (error) {
    fail('compile', error);
    continue;
  }
  try {
    if (canonical(toGraph(definition)) === canonical(graph)) counts.sameDefault++;
    else fail('ir-default', 'the default target lowers to a different IR');
  } catch (error) {
    fail('ir-default', error);
  }
  let all = true;
  for (const stage of graph.stages) {
    if (ANONYMOUS.test(stage.name)) continue;
    stageCounts.stages++;
    try {
      if (canonical(toGraph(definition, { target: stage.name }), stage.name) === canonical(graph, stage.name))
        stageCounts.same++;
      else {
        all = false;
        fail('ir-stage', `--target ${stage.name} lowers to a different IR`);
      }
    } catch (error) {
      all = false;
      fail('ir-stage', `--target ${stage.name}: ${firstLine(error)}`);
    }
  }
  if (all) counts.sameAllStages++;
}

const rows = [
  ['Dockerfiles', counts.files],
  ['check (lower + validate)', counts.check],
  ['convert (build.ts)', counts.convert],
  ['compile back (load, toGraph)', counts.compile],
  ['same IR, default target', counts.sameDefault],
  ['same IR, every named stage', counts.sameAllStages],
  ['  named stages with the same IR', `${stageCounts.same}/${stageCounts.stages}`],
];
if (typecheck && generated.size) {
  const { tsc, biome } = checkGenerated();
  rows.push(['tsc --strict --noUnusedLocals', `${generated.size - tsc.size}/${generated.size}`]);
  rows.push(['Biome recommended, no finding', `${generated.size - biome.size}/${generated.size}`]);
  for (const [file, message] of tsc) failures.push(`${'tsc'.padEnd(12)} ${generated.get(file)}: ${message}`);
  for (const [file, message] of biome)
    failures.push(`${'biome'.padEnd(12)} ${generated.get(file)}: ${message}`);
}
rmSync(work, { recursive: true, force: true });

const width = Math.max(...rows.map(([label]) => label.length));
process.stdout.write(
  `${rows.map(([label, value]) => `${label.padEnd(width)}  ${String(value).padStart(7)}`).join('\n')}\n`,
);
if (failures.length) {
  const shown = verbose ? failures : failures.slice(0, 40);
  const more = failures.length - shown.length;
  process.stdout.write(`\n${shown.join('\n')}\n${more ? `… ${more} more (--verbose)\n` : ''}`);
}

/**
 * Type-checks every generated build.ts at once (strict, no unused locals, `@wharf/core` from the built
 * package) and lints them with Biome's recommended rules. Returns the first finding per file, by file.
 */
function checkGenerated() {
  const checks = writeGeneratedChecks(work, { core: join(core, 'index.d.ts'), include: '*/build.ts' });
  const tsc = new Map();
  for (const line of run(process.execPath, [checks.tsc, '-p', checks.tsconfig]).split('\n')) {
    const found = /^(\d+\/build\.ts)\((\d+),\d+\): (error .*)$/.exec(line.trim());
    if (found && !tsc.has(found[1])) tsc.set(found[1], `line ${found[2]}: ${found[3]}`);
  }
  const biome = new Map();
  for (const line of run(checks.biome, ['lint', '--reporter=github', '--max-diagnostics=none', work]).split(
    '\n',
  )) {
    const found = /title=([^,]*),file=(?:[^,]*\/)?(\d+\/build\.ts),line=(\d+).*?::(.*)$/.exec(line);
    if (found && !biome.has(found[2])) biome.set(found[2], `line ${found[3]}: ${found[1]}: ${found[4]}`);
  }
  return { tsc, biome };
}

/** A tool's output (stdout and stderr), whether it exits 0 or not. */
function run(command, args) {
  try {
    return execFileSync(command, args, { cwd: work, encoding: 'utf8', stdio: 'pipe', timeout: 600_000 });
  } catch (error) {
    return `${error.stdout ?? ''}${error.stderr ?? ''}`;
  }
}
