import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dump } from '../../packages/core/src/dockerfile/parse/dump.js';
import {
  chompHeredocContent,
  heredocsFromLine,
  parseHeredocWord,
} from '../../packages/core/src/dockerfile/parse/heredoc.js';
import { parseJsonArray } from '../../packages/core/src/dockerfile/parse/json-form.js';
import { type Node, nodeArgs } from '../../packages/core/src/dockerfile/parse/node.js';
import { DockerfileParseError } from '../../packages/core/src/dockerfile/parse/parse-error.js';
import { parseDockerfile } from '../../packages/core/src/dockerfile/parse/parser.js';
import { WharfError } from '../../packages/core/src/errors.js';
import { instructionCases } from './buildkit-instruction-cases.js';
import { peerSuite } from './peer-suites.js';

const suite = peerSuite('buildkit-parser');
const read = (...path: string[]) => readFileSync(join(suite, ...path), 'utf8');
const readJson = <T>(name: string): T => JSON.parse(read('extracted', name)) as T;
const cases = (dir: string) => readdirSync(join(suite, dir)).sort();

/** The parse error a malformed Dockerfile must give. */
const parseError = (text: string): DockerfileParseError => {
  const thrown = expectThrow(() => parseDockerfile(text));
  expect(thrown).toBeInstanceOf(DockerfileParseError);
  return thrown as DockerfileParseError;
};
const expectThrow = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
};

describe('BuildKit testfiles: dump matches result', () => {
  it.each(cases('testfiles'))('%s', (name) => {
    const { ast } = parseDockerfile(read('testfiles', name, 'Dockerfile'));
    expect(`${dump(ast)}\n`).toBe(read('testfiles', name, 'result'));
  });
});

describe('BuildKit testfiles-negative: parsing fails', () => {
  const messages: Record<string, string> = {
    empty_dockerfile: 'file with no instructions',
    only_comments: 'file with no instructions',
    env_no_value: 'ENV must have two arguments',
    'shykes-nested-json': 'when using JSON array syntax, arrays must be comprised of strings only',
  };
  it.each(cases('testfiles-negative'))('%s', (name) => {
    const err = parseError(read('testfiles-negative', name, 'Dockerfile'));
    expect(err.code).toBe('DOCKERFILE_PARSE');
    expect(err.message).toBe(messages[name]);
    expect(err.location?.file).toBe('Dockerfile');
  });
});

describe('line numbers (testfile-line, extracted/line-numbers.json)', () => {
  interface LineNumbers {
    dockerfile: string;
    expect: {
      root: { startLine: number; endLine: number };
      childCount: number;
      children: { startLine: number; endLine: number }[];
    };
  }
  const spec = readJson<LineNumbers>('line-numbers.json');
  it('gives the root and every instruction its physical line range', () => {
    const { ast } = parseDockerfile(read(spec.dockerfile));
    expect({ startLine: ast.startLine, endLine: ast.endLine }).toEqual(spec.expect.root);
    expect(ast.children).toHaveLength(spec.expect.childCount);
    expect(ast.children.map((c) => ({ startLine: c.startLine, endLine: c.endLine }))).toEqual(
      spec.expect.children,
    );
  });
});

describe('heredocs (extracted/heredoc-cases.json)', () => {
  interface HeredocJson {
    Name: string;
    FileDescriptor: number;
    Expand: boolean;
    Chomp: boolean;
    Content: string;
  }
  interface HeredocCases {
    extractsHeredoc: {
      dockerfile: string;
      children: { index: number; startLine: number; dump: string; heredocs: HeredocJson[] | null | string }[];
    };
    jsonFormNoHeredoc: { dockerfile: string };
    parseHeredocWord: { validNameIsEOF: string[]; invalidMustError: string[]; notAHeredocNoError: string[] };
    heredocsFromLine: { cases: { line: string; names: string[] }[] };
    chomp: { input: string; output: string };
  }
  const spec = readJson<HeredocCases>('heredoc-cases.json');
  const { ast } = parseDockerfile(spec.extractsHeredoc.dockerfile);

  it('parses the 28-instruction Dockerfile into 28 children', () => {
    expect(ast.children).toHaveLength(spec.extractsHeredoc.children.length);
  });
  it.each(spec.extractsHeredoc.children)('child $index: dump, start line and heredocs', (c) => {
    const child = ast.children[c.index] as Node;
    expect(`(${dump(child)})`).toBe(c.dump);
    expect(child.startLine).toBe(c.startLine);
    if (typeof c.heredocs === 'string') return; // not asserted upstream
    const expected = (c.heredocs ?? []).map((h) => ({
      name: h.Name,
      fileDescriptor: h.FileDescriptor,
      expand: h.Expand,
      chomp: h.Chomp,
      content: h.Content,
    }));
    expect(child.heredocs).toEqual(expected);
  });
  it('never takes heredocs in exec/JSON form', () => {
    const { ast: json } = parseDockerfile(spec.jsonFormNoHeredoc.dockerfile);
    expect(json.children).toHaveLength(4);
    for (const child of json.children.slice(1)) {
      expect(child.attributes.json).toBe(true);
      expect(child.heredocs).toEqual([]);
    }
  });
  it.each(spec.parseHeredocWord.validNameIsEOF)('parseHeredocWord(%j) is named EOF', (word) => {
    expect(parseHeredocWord(word)?.name).toBe('EOF');
  });
  it.each(spec.parseHeredocWord.invalidMustError)('parseHeredocWord(%j) throws', (word) => {
    expect(() => parseHeredocWord(word)).toThrow(WharfError);
  });
  it.each(spec.parseHeredocWord.notAHeredocNoError)('parseHeredocWord(%j) is not a heredoc', (word) => {
    expect(parseHeredocWord(word)).toBeUndefined();
  });
  it.each(spec.heredocsFromLine.cases)('heredocsFromLine($line)', ({ line, names }) => {
    expect(heredocsFromLine(line).map((h) => h.name)).toEqual(names);
  });
  it('chompHeredocContent strips leading tabs only', () => {
    expect(chompHeredocContent(spec.chomp.input)).toBe(spec.chomp.output);
    expect(chompHeredocContent('\t a\n  b\n\t\tc')).toBe(' a\n  b\nc');
  });
});

describe('JSON arrays (extracted/json-arrays.json)', () => {
  interface JsonArrays {
    valid: { input: string; values: string[] }[];
    invalidNotAllStrings: string[];
  }
  const spec = readJson<JsonArrays>('json-arrays.json');
  it.each(spec.valid)('$input', ({ input, values }) => {
    expect(parseJsonArray(input)).toEqual(values);
    const { ast } = parseDockerfile(`CMD ${input}`);
    expect(ast.children[0]?.attributes.json).toBe(true);
    expect(nodeArgs(ast.children[0] as Node)).toEqual(values);
  });
  it.each(spec.invalidNotAllStrings)('%s is an error', (input) => {
    expect(() => parseJsonArray(input)).toThrow(
      'when using JSON array syntax, arrays must be comprised of strings only',
    );
    expect(parseError(`CMD ${input}`).location).toMatchObject({ file: 'Dockerfile', line: 1 });
  });
});

describe('instruction-level cases (extracted/instruction-cases.json), at the AST level', () => {
  const spec = instructionCases();

  it.each(spec.errors)(
    '$dockerfile parses (the error is raised when typing the instruction)',
    ({ dockerfile }) => {
      expect(parseDockerfile(dockerfile).ast.children.length).toBeGreaterThan(0);
    },
  );

  it.each(spec.copyHeredoc.cases)('COPY: $dockerfile', (c) => {
    const node = parseDockerfile(c.dockerfile).ast.children[0] as Node;
    const args = nodeArgs(node);
    const sources = args.slice(0, -1);
    const byName = new Map(node.heredocs.map((h) => [h.name, h]));
    const contents = [];
    const paths = [];
    for (const src of sources) {
      const header = parseHeredocWord(src);
      const doc = header && byName.get(header.name);
      if (header && doc) {
        const data = header.chomp ? chompHeredocContent(doc.content) : doc.content;
        contents.push({ path: header.name, data, expand: header.expand });
      } else {
        paths.push(src);
      }
    }
    expect(args.at(-1)).toBe(c.destPath);
    expect(paths).toEqual(c.sourcePaths ?? []);
    expect(contents).toEqual(c.sourceContents ?? []);
  });

  it.each(spec.runHeredoc.cases)('RUN: $dockerfile', (c) => {
    const node = parseDockerfile(c.dockerfile).ast.children[0] as Node;
    expect(!node.attributes.json).toBe(c.prependShell);
    expect(nodeArgs(node)).toEqual(c.cmdLine);
    const files = node.heredocs.map((h) => ({ name: h.name, data: h.content, chomp: h.chomp }));
    expect(files).toEqual(c.files ?? []);
  });

  it('keeps the comments above each instruction (doc comments)', () => {
    const { ast } = parseDockerfile(spec.docComments.dockerfile);
    expect(ast.children.map((c) => c.prevComment)).toEqual([
      ['foo sets foo'],
      ['base defines first stage'],
      ['this is irrelevant'],
      ['bar defines bar', 'baz is something else'],
    ]);
  });
});
