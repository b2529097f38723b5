/**
 * `generateBuildTs`: golden files (`testdata/<case>/Dockerfile` → `expected-build.ts`, or `error.txt`), a
 * round trip through the DSL (the generated module, imported, gives back the graph), and `tsc --noEmit` over
 * the files generated for every Dockerfile we have and for the examples.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
// The tsconfig and Biome rules a user's project has: one definition with scripts/dockerfile-corpus.mjs.
import { writeGeneratedChecks } from '../../../../../scripts/generated-checks.mjs';
import { type Definition, type Stage as DslStage, stage as dslStage, toGraph } from '../../dsl/index.js';
import { isWharfError } from '../../errors.js';
import { pruneToTarget } from '../../ir/graph.js';
import { normalizeScript } from '../../ir/script.js';
import type { BuildGraph, FromRef, Instruction, Mount, Stage } from '../../ir/types.js';
import { lowerDockerfile } from '../lower/index.js';
import { generateBuildTs, heredocScript, variableName } from './index.js';

const repo = fileURLToPath(new URL('../../../../../', import.meta.url));
const coreIndex = join(repo, 'packages/core/src/index.ts');
const testdata = fileURLToPath(new URL('testdata/', import.meta.url));
const tmp = join(repo, '.wharf-test', `codegen-${process.pid}`);
const update = process.env.UPDATE_GOLDEN === '1';
const read = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8') : undefined);

afterAll(() => {
  if (!process.env.KEEP) rmSync(tmp, { recursive: true, force: true });
});

/** Every Dockerfile we have that lowers: lower/ and codegen/ testdata (BuildKit's testfiles: test/conformance/). */
function dockerfiles(): [string, BuildGraph][] {
  const out: [string, BuildGraph][] = [];
  const add = (name: string, path: string) => {
    try {
      out.push([name, lowerDockerfile(readFileSync(path, 'utf8'))]);
    } catch (error) {
      if (!isWharfError(error)) throw error;
    }
  };
  const lowerData = fileURLToPath(new URL('../lower/testdata/', import.meta.url));
  for (const name of readdirSync(lowerData).sort()) add(`lower-${name}`, join(lowerData, name, 'Dockerfile'));
  for (const name of readdirSync(testdata).sort()) add(`codegen-${name}`, join(testdata, name, 'Dockerfile'));
  return out;
}

async function examples(): Promise<[string, BuildGraph][]> {
  const dir = join(repo, 'examples');
  const out: [string, BuildGraph][] = [];
  for (const name of readdirSync(dir).sort()) {
    const file = join(dir, name, 'build.ts');
    if (!existsSync(file)) continue;
    const mod = (await import(/* @vite-ignore */ pathToFileURL(file).href)) as { default: Definition };
    // A definition with several targets and no default (a bake file): each target is a case.
    const targets = mod.default.target === undefined ? Object.keys(mod.default.targets ?? {}) : [];
    if (targets.length > 1) {
      for (const target of targets) out.push([`example-${name}-${target}`, toGraph(mod.default, { target })]);
    } else out.push([`example-${name}`, toGraph(mod.default)]);
  }
  return out;
}

/** Generates, or undefined when the graph uses what the DSL cannot say yet (COPY heredocs). */
function generate(graph: BuildGraph, importFrom: string): string | undefined {
  try {
    return generateBuildTs(graph, { importFrom });
  } catch (error) {
    if (
      isWharfError(error) &&
      error.code === 'CODEGEN_UNSUPPORTED' &&
      /heredoc sources/.test(error.message)
    ) {
      return undefined;
    }
    throw error;
  }
}

describe('golden cases', () => {
  for (const name of readdirSync(testdata).sort()) {
    test(name, () => {
      const dir = join(testdata, name);
      let code: string | undefined;
      let error: string | undefined;
      try {
        code = generateBuildTs(lowerDockerfile(readFileSync(join(dir, 'Dockerfile'), 'utf8')), {
          sourceName: 'Dockerfile',
        });
      } catch (e) {
        if (!isWharfError(e)) throw e;
        error = `${e.code}: ${e.describe()}\n`;
      }
      for (const [file, actual] of Object.entries({ 'expected-build.ts': code, 'error.txt': error })) {
        const path = join(dir, file);
        if (update) {
          if (actual === undefined) rmSync(path, { force: true });
          else writeFileSync(path, actual);
        }
        expect(actual, `${name}/${file}`).toBe(read(path));
      }
    });
  }
});

describe('a #! heredoc script', () => {
  test('converts byte for byte and stays a script file (the shebang picks the interpreter) on both backends', () => {
    // issue 15: `RUN <<EOF` + `#!/usr/bin/env rev` lost its trailing blank line, and the converted run()
    // became `sh -c` text on the direct backend while the emitted Dockerfile ran it through rev.
    const original = lowerDockerfile('FROM busybox\nRUN <<EOF\n#!/usr/bin/env rev\nabc\n\nEOF\n');
    const run = original.stages[0]?.instructions[0];
    if (run?.kind !== 'run' || run.command.form !== 'shell' || !run.heredocs)
      throw new Error('expected a RUN heredoc');
    const script = heredocScript(run.command.script, run.heredocs);
    const back = toGraph(dslStage().from('busybox').run(script, { asScript: true }));
    const { source: _a, ...converted } = (back.stages[0]?.instructions[0] ?? {}) as Instruction;
    const { source: _b, ...lowered } = run;
    expect(converted).toEqual(lowered);
    expect(lowered).toMatchObject({
      command: { form: 'shell', script: '<<EOF' },
      heredocs: [{ name: 'EOF', content: '#!/usr/bin/env rev\nabc\n\n' }],
    });
    // a script that has an `EOF` line gets another delimiter
    const eof = toGraph(dslStage().from('busybox').run('#!/bin/sh\ncat <<EOF\nx\nEOF', { asScript: true }));
    expect(eof.stages[0]?.instructions[0]).toMatchObject({ command: { script: '<<EOF1' } });
  });
});

describe('naming', () => {
  test('stage variables', () => {
    expect(variableName('build-env')).toBe('buildEnv');
    expect(variableName('stage-0')).toBe('stage0');
    expect(variableName('a.b_c')).toBe('aBC');
    expect(variableName('new')).toBe('newStage');
  });

  test('variables never shadow the DSL imports or each other', () => {
    const graph = lowerDockerfile(
      'FROM alpine AS cache\nFROM alpine AS a-b\nFROM alpine AS a.b\nFROM cache\n',
    );
    const code = generateBuildTs(graph);
    expect(code).toContain('const cacheStage = stage(');
    expect(code).toContain('const aB = stage(');
    expect(code).toContain('const aBStage = stage(');
    expect(code).toContain('.from(cacheStage)');
  });

  test('string literals are escaped', () => {
    const graph = lowerDockerfile('FROM alpine\nRUN echo \'a\' "b" \\\\ done\nWORKDIR "/it\'s"\n');
    const code = generateBuildTs(graph);
    expect(code).toContain(`.run('echo \\'a\\' "b" \\\\\\\\ done')`);
    expect(code).toContain(`.workdir("/it's")`);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Round trip: the generated module's default export, through toGraph, is the graph again.

/**
 * The graph as the DSL can give it back: pruned to the target in dependency order, anonymous stages renamed by
 * position (toGraph numbers them in its own order), no sources or comments, RUN heredocs as the one script
 * BuildKit runs (normalised like the DSL's `run()`), a secret's default id written out.
 */
function canonical(graph: BuildGraph, target?: string): unknown {
  const pruned = pruneToTarget(graph, target);
  const names = new Map(
    pruned.stages.map((s, i) => [s.name, /^stage-\d+(-\d+)*$/.test(s.name) ? `anonymous-${i}` : s.name]),
  );
  const rename = (name: string) => names.get(name) ?? name;
  const from = (ref: FromRef | undefined): FromRef | undefined =>
    ref?.kind === 'stage' ? { kind: 'stage', stage: rename(ref.stage) } : ref;
  const mount = (m: Mount): Mount => {
    if (m.type === 'secret' && m.id === undefined) return { ...m, id: m.target?.split('/').at(-1) ?? '' };
    if ((m.type === 'cache' || m.type === 'bind') && m.from) return { ...m, from: from(m.from) as FromRef };
    return m;
  };
  const instruction = (i: Instruction): Instruction => {
    switch (i.kind) {
      case 'run': {
        const { heredocs, ...rest } = i;
        const command = heredocs?.length
          ? {
              form: 'shell' as const,
              // The generated run() passes asScript where joining would change the script.
              script: normalizeScript(
                heredocScript(i.command.form === 'shell' ? i.command.script : '', heredocs),
                {
                  join: false,
                },
              ),
            }
          : i.command;
        return { ...rest, command, ...(i.mounts ? { mounts: i.mounts.map(mount) } : {}) };
      }
      case 'copy':
        return i.from ? { ...i, from: from(i.from) as FromRef } : i;
      case 'onbuild':
        return { ...i, instruction: instruction(i.instruction) as typeof i.instruction };
      default:
        return i;
    }
  };
  const stages = pruned.stages.map(
    (s): Stage => ({
      ...s,
      name: rename(s.name),
      base: s.base.kind === 'stage' ? { kind: 'stage', stage: rename(s.base.stage) } : s.base,
      instructions: s.instructions.map(instruction),
    }),
  );
  const { comments: _, ...rest } = pruned;
  const graphOut = { ...rest, stages, target: rename(pruned.target ?? '') };
  return JSON.parse(JSON.stringify(graphOut, (k, v) => (k === 'source' || k === 'comments' ? undefined : v)));
}

async function load(name: string, code: string, target?: string): Promise<BuildGraph> {
  mkdirSync(join(tmp, 'roundtrip'), { recursive: true });
  const file = join(tmp, 'roundtrip', `${name.replace(/[^\w-]/g, '_')}.ts`);
  writeFileSync(file, code);
  const mod = (await import(/* @vite-ignore */ pathToFileURL(file).href)) as {
    default: DslStage | Definition;
  };
  return toGraph(mod.default, target === undefined ? {} : { target });
}

describe('the generated build.ts gives the graph back', async () => {
  const all = [...dockerfiles(), ...(await examples())];
  test('there are cases', () => expect(all.length).toBeGreaterThan(20));
  for (const [name, graph] of all) {
    test(name, async () => {
      const code = generate(graph, coreIndex);
      if (code === undefined) return;
      expect(canonical(await load(name, code))).toEqual(canonical(graph));
      // Every named stage stays a target, as `docker build --target` allows.
      for (const stage of graph.stages) {
        if (/^stage-\d+(-\d+)*$/.test(stage.name)) continue;
        expect(canonical(await load(name, code, stage.name)), `--target ${stage.name}`).toEqual(
          canonical(graph, stage.name),
        );
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------------------

test('every generated build.ts type-checks (strict, no unused locals) and passes Biome', {
  timeout: 90_000,
}, async () => {
  const dir = join(tmp, 'tsc');
  mkdirSync(dir, { recursive: true });
  const all = [...dockerfiles(), ...(await examples())];
  let count = 0;
  for (const [name, graph] of all) {
    const code = generate(graph, '@wharf/core');
    if (code === undefined) continue;
    writeFileSync(join(dir, `${name.replace(/[^\w-]/g, '_')}.ts`), code);
    count++;
  }
  const checks = writeGeneratedChecks(dir, { core: coreIndex, include: '*.ts' });
  let output = '';
  try {
    execFileSync(process.execPath, [checks.tsc, '-p', checks.tsconfig], {
      encoding: 'utf8',
      timeout: 80_000,
    });
  } catch (error) {
    output = String((error as { stdout?: string }).stdout ?? error);
  }
  expect(output).toBe('');
  expect(count).toBeGreaterThan(20);
  // Biome's recommended rules, as a user's project would have them (noTemplateCurlyInString included).
  let lint = '';
  try {
    execFileSync(checks.biome, ['lint', '--max-diagnostics=20', '--error-on-warnings', dir], {
      encoding: 'utf8',
      cwd: dir,
      timeout: 60_000,
      stdio: 'pipe',
    });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    lint = `${e.stdout ?? ''}${e.stderr ?? String(error)}`;
  }
  expect(lint).toBe('');
});
