#!/usr/bin/env node
// Conformance run over a folder of Dockerfiles (kept outside the repository: they are others' code):
// for each file, `wharf dockerfile --check` (lower + validate), `wharf convert` (build.ts), compile the
// build.ts back (load it, toGraph), and compare the lowered IR of the original with the build.ts's, for
// the default target and for every named stage as --target. Prints the counts and each failure.
//
//   pnpm -s build && node scripts/dockerfile-corpus.mjs /work/corpus [--verbose]
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const core = join(repo, 'packages/core/dist');
const { assertValidGraph, generateBuildTs, lowerDockerfile, pruneToTarget, toGraph } = await import(
  pathToFileURL(join(core, 'index.js')).href
);
const { heredocScript } = await import(pathToFileURL(join(core, 'dockerfile/codegen/index.js')).href);
const { normalizeScript } = await import(pathToFileURL(join(core, 'ir/script.js')).href);
const { createJiti } = createRequire(join(repo, 'packages/cli/package.json'))('jiti');

const dir = process.argv[2];
const verbose = process.argv.includes('--verbose');
if (!dir) {
  process.stderr.write('usage: node scripts/dockerfile-corpus.mjs DIR [--verbose]\n');
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
 * The IR as both sides can give it: pruned to the target, anonymous stages named by position, no
 * locations, comments or directives' absence, RUN heredocs as the one script BuildKit runs, a secret's
 * default id written out, keys sorted.
 */
function canonical(graph, target) {
  const pruned = pruneToTarget(graph, target);
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
rmSync(work, { recursive: true, force: true });

process.stdout.write(
  `${counts.files} Dockerfiles: ${counts.check} check, ${counts.convert} convert, ${counts.compile} compile back, ` +
    `${counts.sameDefault} same IR (default target), ${counts.sameAllStages} same IR for every named stage ` +
    `(${stageCounts.same}/${stageCounts.stages} stages)\n`,
);
if (failures.length)
  process.stdout.write(`${verbose ? failures.join('\n') : failures.slice(0, 40).join('\n')}\n`);
