/**
 * Golden cases: every `testdata/<case>/Dockerfile` lowers to `graph.json` (sources left out), or, with
 * `error.txt`, fails with that `code: file:line:col: message`. `UPDATE_GOLDEN=1` rewrites the expected files.
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { isWharfError } from '../../errors.js';
import { lowerDockerfile } from './index.js';
import { toWord } from './words.js';

const testdata = fileURLToPath(new URL('testdata/', import.meta.url));
const update = process.env.UPDATE_GOLDEN === '1';
const read = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8') : undefined);
const withoutSources = (value: unknown): unknown =>
  JSON.parse(JSON.stringify(value, (key, v) => (key === 'source' ? undefined : v)));

describe('lowerDockerfile golden cases', () => {
  const cases = readdirSync(testdata).sort();
  for (const name of cases) {
    test(name, () => {
      const dir = join(testdata, name);
      let graph: string | undefined;
      let error: string | undefined;
      try {
        graph = `${JSON.stringify(withoutSources(lowerDockerfile(readFileSync(join(dir, 'Dockerfile'), 'utf8'))), null, 2)}\n`;
      } catch (e) {
        if (!isWharfError(e)) throw e;
        error = `${e.code}: ${e.describe()}\n`;
      }
      const files = { 'graph.json': graph, 'error.txt': error };
      for (const [file, actual] of Object.entries(files)) {
        const path = join(dir, file);
        if (update) {
          if (actual === undefined) rmSync(path, { force: true });
          else writeFileSync(path, actual);
        }
        const expected = read(path);
        // graph.json is compared as data, so formatters may lay it out as they like.
        if (file === 'graph.json' && actual !== undefined && expected !== undefined) {
          expect(JSON.parse(actual), `${name}/${file}`).toEqual(JSON.parse(expected));
        } else expect(actual, `${name}/${file}`).toBe(expected);
      }
    });
  }
});

describe('locations', () => {
  test('instructions and stages carry file, line, column 1 and endLine', () => {
    const graph = lowerDockerfile('FROM alpine AS a\n\n# c\nRUN echo \\\n  hi\n', { file: 'app/Dockerfile' });
    const stage = graph.stages[0];
    expect(stage?.source).toEqual({ file: 'app/Dockerfile', line: 1, column: 1, endLine: 1 });
    expect(stage?.instructions[0]).toMatchObject({
      comments: ['c'],
      source: { file: 'app/Dockerfile', line: 4, column: 1, endLine: 5 },
    });
  });

  test('errors point at the instruction', () => {
    expect(() => lowerDockerfile('FROM alpine\nEXPOSE\n', { file: 'x/Dockerfile' })).toThrow(
      expect.objectContaining({
        code: 'DOCKERFILE_INSTRUCTION',
        message: 'EXPOSE requires at least one argument',
        location: { file: 'x/Dockerfile', line: 2, column: 1, endLine: 2 },
      }),
    );
  });

  test('a word nested past the expansion limit fails at its line, not with a stack overflow', () => {
    const nested = `${'${a:-'.repeat(2000)}x${'}'.repeat(2000)}`;
    expect(() => lowerDockerfile(`FROM alpine\nENV x=${nested}\n`, { file: 'x/Dockerfile' })).toThrow(
      expect.objectContaining({
        message: expect.stringContaining('nested more than 100 deep'),
        location: expect.objectContaining({ file: 'x/Dockerfile', line: 2 }),
      }),
    );
  });
  test('parse errors come through with their location', () => {
    expect(() => lowerDockerfile('FROM alpine\nENV PATH\n')).toThrow(
      expect.objectContaining({ code: 'DOCKERFILE_PARSE', location: expect.objectContaining({ line: 2 }) }),
    );
  });

  test('the context directory', () => {
    expect(lowerDockerfile('FROM alpine\n', { contextDir: 'app' }).context).toEqual({ dir: 'app' });
  });
});

describe('toWord', () => {
  const cases: [string, string][] = [
    ['plain', 'plain'],
    ['"a b"', 'a b'],
    ["'$HOME'", '\\$HOME'],
    ['\\$HOME', '\\$HOME'],
    ['"\\$HOME"', '\\$HOME'],
    ['$HOME/x', '$HOME/x'],
    ['${HOME}x', '${HOME}x'],
    ['${A:-"x y"}', '${A:-x y}'],
    ["${A:-'$b'}", '${A:-\\$b}'],
    ['${A#*/}', '${A#*/}'],
    ['a$', 'a\\$'],
    ['$1$@', '$1$@'],
    ['"a\\"b"', 'a"b'],
    ['"a\\nb"', 'a\\nb'],
    ['a\\\\b', 'a\\b'],
    ["it\\'s", "it's"],
  ];
  for (const [raw, word] of cases) test(raw, () => expect(toWord(raw)).toBe(word));

  test('the backtick escape', () => {
    expect(toWord('C:\\dir`$x', '`')).toBe('C:\\dir\\$x');
    expect(toWord('"a`"b"', '`')).toBe('a"b');
  });

  test('a literal backslash before a $ is doubled, so it stays apart from the expansion or the dollar', () => {
    expect(toWord("'\\'$HOME")).toBe('\\\\$HOME');
    expect(toWord('a\\\\$HOME')).toBe('a\\\\$HOME');
    expect(toWord('"a\\\\$HOME"')).toBe('a\\\\$HOME');
    expect(toWord('"a\\\\\\$HOME"')).toBe('a\\\\\\$HOME');
    expect(toWord("'\\\\$x'")).toBe('\\\\\\\\\\$x');
    expect(toWord('C:\\\\dir\\\\')).toBe('C:\\dir\\');
  });

  test("BuildKit's lexer errors", () => {
    expect(() => toWord('"open')).toThrow(/matching double-quote/);
    expect(() => toWord('${')).toThrow(/missing '}'/);
  });
});
