// BuildKit's parser testfiles (peer suite buildkit-parser) through wharf's Dockerfile round trips:
// `lower(emit(lower(x))) = lower(x)`, and the build.ts that `generateBuildTs` writes loads and gives the
// target's stages back. (The same checks over wharf's own testdata are unit tests beside the code.)
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { generateBuildTs } from '../../packages/core/src/dockerfile/codegen/index.js';
import { emitDockerfile } from '../../packages/core/src/dockerfile/emit/index.js';
import { lowerDockerfile } from '../../packages/core/src/dockerfile/lower/index.js';
import { type Definition, type Stage, toGraph } from '../../packages/core/src/dsl/index.js';
import { isWharfError } from '../../packages/core/src/errors.js';
import { pruneToTarget } from '../../packages/core/src/ir/graph.js';
import type { BuildGraph } from '../../packages/core/src/ir/types.js';
import { repoRoot } from '../helpers/paths.js';
import { peerSuite } from './peer-suites.js';

const testfiles = peerSuite('buildkit-parser', 'testfiles');
const strip = (value: unknown): unknown =>
  JSON.parse(JSON.stringify(value, (key, v) => (key === 'source' ? undefined : v)));

/** Each testfile, and those without FROM once more with one (BuildKit's parser accepts them bare). */
function dockerfiles(): [string, string][] {
  const out: [string, string][] = [];
  for (const name of readdirSync(testfiles).sort()) {
    const text = readFileSync(join(testfiles, name, 'Dockerfile'), 'utf8');
    out.push([name, text]);
    if (!/^\s*from/im.test(text)) out.push([`${name} (with FROM)`, `FROM scratch\n${text}`]);
  }
  return out;
}

/** The graph, or undefined when wharf rejects the Dockerfile as BuildKit does (dockerfile-lower.test.ts). */
function lowered(text: string): BuildGraph | undefined {
  try {
    return lowerDockerfile(text);
  } catch (error) {
    if (isWharfError(error)) return undefined;
    throw error;
  }
}

describe('lower(emit(lower(x))) = lower(x)', () => {
  for (const [name, text] of dockerfiles()) {
    test(name, () => {
      // `CMD ["…\u0000…"]`: a NUL cannot be passed to a process (the emitter's documented limit).
      if (name === 'json (with FROM)') {
        expect(() => emitDockerfile(lowerDockerfile(text))).toThrow('contains a NUL character');
        return;
      }
      const graph = lowered(text);
      if (graph === undefined) return;
      expect(strip(lowerDockerfile(emitDockerfile(graph).dockerfile))).toEqual(strip(graph));
    });
  }
});

describe('the generated build.ts loads and has the stages of the target', () => {
  // Inside the checkout (git-ignored) so the generated module resolves like the repository's own code.
  const dir = join(repoRoot, '.wharf-test', `conformance-codegen-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const coreIndex = join(repoRoot, 'packages/core/src/index.ts');
  for (const name of readdirSync(testfiles).sort()) {
    test(name, async () => {
      const graph = lowered(readFileSync(join(testfiles, name, 'Dockerfile'), 'utf8'));
      if (graph === undefined) return;
      let code: string;
      try {
        code = generateBuildTs(graph, { importFrom: coreIndex });
      } catch (error) {
        // COPY heredocs are what the DSL cannot say yet.
        if (isWharfError(error) && error.code === 'CODEGEN_UNSUPPORTED') return;
        throw error;
      }
      const file = join(dir, `${name.replace(/[^\w-]/g, '_')}.ts`);
      writeFileSync(file, code);
      const mod = (await import(/* @vite-ignore */ pathToFileURL(file).href)) as {
        default: Stage | Definition;
      };
      const back = toGraph(mod.default);
      expect(back.stages.map((s) => s.instructions.length)).toEqual(
        pruneToTarget(graph).stages.map((s) => s.instructions.length),
      );
    });
  }
});
