/**
 * Golden tests: every `testdata/<case>/graph.json` is emitted and compared with `Dockerfile` (and
 * `.dockerignore` when present), or, when the case has `error.txt`, must throw EMIT_UNREPRESENTABLE with
 * that message. `UPDATE_GOLDEN=1` rewrites the expected files.
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { isWharfError } from '../../errors.js';
import type { BuildGraph } from '../../ir/types.js';
import { joinContinuations } from './fold.js';
import { emitDockerfile } from './index.js';

const testdata = join(dirname(fileURLToPath(import.meta.url)), 'testdata');
const update = process.env.UPDATE_GOLDEN === '1';
const cases = readdirSync(testdata, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

const read = (path: string): string | undefined =>
  existsSync(path) ? readFileSync(path, 'utf8') : undefined;

function emitOrError(graph: BuildGraph): ReturnType<typeof emitDockerfile> | { error: string } {
  try {
    return emitDockerfile(graph);
  } catch (error) {
    if (!isWharfError(error)) throw error;
    return { error: `${error.code}: ${error.describe()}\n` };
  }
}

describe('emitDockerfile golden cases', () => {
  test('there are cases', () => expect(cases.length).toBeGreaterThan(10));

  for (const name of cases) {
    test(name, () => {
      const dir = join(testdata, name);
      const graph = JSON.parse(readFileSync(join(dir, 'graph.json'), 'utf8')) as BuildGraph;
      const result = emitOrError(graph);
      const files = {
        Dockerfile: 'error' in result ? undefined : result.dockerfile,
        '.dockerignore': 'error' in result ? undefined : result.dockerignore,
        'error.txt': 'error' in result ? result.error : undefined,
      };
      for (const [file, actual] of Object.entries(files)) {
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

describe('emitted RUN scripts are lossless', () => {
  // For every one-line shell RUN in the golden graphs, the emitted physical lines must join back (the way
  // BuildKit joins continuation lines) to `RUN [flags] <script>` with the script byte-identical.
  for (const name of cases) {
    const dir = join(testdata, name);
    if (existsSync(join(dir, 'error.txt'))) continue;
    test(name, () => {
      const graph = JSON.parse(readFileSync(join(dir, 'graph.json'), 'utf8')) as BuildGraph;
      const lines = emitDockerfile(graph).dockerfile.split('\n');
      for (const stage of graph.stages) {
        for (const instruction of stage.instructions) {
          if (instruction.kind !== 'run' || instruction.command.form !== 'shell' || instruction.heredocs)
            continue;
          const { script } = instruction.command;
          if (script.includes('\n')) continue; // emitted as a heredoc
          const oneLine = lines.some((line, i) => line.startsWith('RUN ') && joinsTo(lines, i, script));
          const asHeredoc = lines.some((line, i) => {
            const delimiter = /^RUN .*<<(EOF\d*)$/.exec(line)?.[1];
            return delimiter !== undefined && lines[i + 1] === script && lines[i + 2] === delimiter;
          });
          expect(oneLine || asHeredoc, `${name}: RUN ${script}`).toBe(true);
        }
      }
    });
  }
});

function joinsTo(lines: readonly string[], start: number, script: string): boolean {
  return joinContinuations(lines.slice(start)).endsWith(` ${script}`);
}
