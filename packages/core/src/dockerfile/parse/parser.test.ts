import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { WharfError } from '../../errors.js';
import { dump } from './dump.js';
import { chompHeredocContent, heredocsFromLine, parseHeredocWord } from './heredoc.js';
import { parseJsonArray } from './json-form.js';
import { type Node, nodeArgs } from './node.js';
import { DockerfileParseError } from './parse-error.js';
import { parseDockerfile } from './parser.js';

// The peer suite lives next to the repository, never inside it: <repo>/../shared/peer-suites.
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../..');
const suite = join(repoRoot, '..', 'shared', 'peer-suites', 'buildkit-parser');
const read = (...path: string[]) => readFileSync(join(suite, ...path), 'utf8');
const readJson = <T>(name: string): T => JSON.parse(read('extracted', name)) as T;
const cases = (dir: string) => readdirSync(join(suite, dir)).sort();

function parseError(text: string): DockerfileParseError {
  try {
    parseDockerfile(text);
  } catch (err) {
    if (err instanceof DockerfileParseError) return err;
    throw err;
  }
  throw new Error(`expected a parse error for ${JSON.stringify(text)}`);
}

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
  it('reports an unterminated heredoc at the instruction', () => {
    const err = parseError('FROM a\nRUN <<EOF\necho hi\n');
    expect(err.message).toBe('unterminated heredoc');
    expect(err.location).toMatchObject({ line: 2, endLine: 3 });
  });
  it('reads heredocs inside ONBUILD and keeps CRLF in bodies', () => {
    const { ast: onbuild } = parseDockerfile('FROM a\r\nONBUILD RUN <<EOF\r\nx\r\nEOF\r\nRUN b\r\n');
    expect(onbuild.children[1]?.heredocs).toEqual([
      { name: 'EOF', fileDescriptor: 0, expand: true, chomp: false, content: 'x\r\n' },
    ]);
    expect(dump(onbuild)).toBe('(from "a")\n(onbuild (run "<<EOF"))\n(run "b")');
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
  it('falls back to the shell form for anything that is not a JSON array', () => {
    for (const rest of ['[1e999]', "['a']", '["a"] x', '["a"', 'a'])
      expect(parseJsonArray(rest)).toBeUndefined();
  });
});

describe('instruction-level cases (extracted/instruction-cases.json), at the AST level', () => {
  interface InstructionCases {
    errors: { dockerfile: string }[];
    copyHeredoc: {
      cases: {
        dockerfile: string;
        destPath: string;
        sourcePaths: string[] | null;
        sourceContents: { path: string; data: string; expand: boolean }[] | null;
      }[];
    };
    runHeredoc: {
      cases: {
        dockerfile: string;
        prependShell: boolean;
        cmdLine: string[];
        files: { name: string; data: string; chomp: boolean }[] | null;
      }[];
    };
    docComments: { dockerfile: string };
  }
  const spec = readJson<InstructionCases>('instruction-cases.json');

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

describe('directives, continuations and line endings', () => {
  it('reads syntax, escape and check directives only at the top', () => {
    const result = parseDockerfile('# syntax=docker/dockerfile:1\n#  ESCAPE = `\n# check=skip=all\nFROM a\n');
    expect(result.escapeToken).toBe('`');
    expect(result.directives).toEqual([
      { name: 'syntax', value: 'docker/dockerfile:1', line: 1 },
      { name: 'escape', value: '`', line: 2 },
      { name: 'check', value: 'skip=all', line: 3 },
    ]);
    expect(result.ast.children[0]?.prevComment).toEqual([]);
    const late = parseDockerfile('# hello\n# escape=`\nFROM a\n');
    expect(late.escapeToken).toBe('\\');
    expect(late.directives).toEqual([]);
    expect(parseDockerfile('#!/bin/sh\n# escape=`\nFROM a').escapeToken).toBe('\\');
  });
  it('rejects a repeated or invalid directive with its line', () => {
    const repeated = parseError('# escape=`\n# escape=\\\nFROM a\n');
    expect(repeated.message).toBe('only one escape parser directive can be used');
    expect(repeated.location).toEqual({ file: 'Dockerfile', line: 2, column: 1 });
    const invalid = parseDockerfile.bind(null, '# escape=x\nFROM a\n', { file: 'app/Dockerfile' });
    expect(invalid).toThrow("invalid escape token 'x' does not match ` or \\");
    try {
      invalid();
    } catch (err) {
      expect((err as WharfError).location).toEqual({ file: 'app/Dockerfile', line: 1, column: 1 });
      expect((err as WharfError).describe()).toMatch(/^app\/Dockerfile:1:1: invalid escape token/);
    }
  });
  it('joins continuations with either escape character, skipping comments and blank lines', () => {
    // After the first instruction `# escape=` is a plain comment: the backtick does not continue.
    const text = 'FROM a\nRUN echo a \\\n# comment\n\n   \n  b\n# escape=`\nRUN x `\ny\n';
    const { ast, warnings } = parseDockerfile(text);
    expect(dump(ast)).toBe('(from "a")\n(run "echo a   b")\n(run "x `")\n(y "")');
    expect(ast.children[1]).toMatchObject({ startLine: 2, endLine: 6 });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.short).toBe('Empty continuation line found in: RUN echo a   b');
    const backtick = parseDockerfile('# escape=`\nRUN a `\n  b\nCOPY c:\\d e\n');
    expect(dump(backtick.ast)).toBe('(run "a   b")\n(copy "c:\\\\d" "e")');
  });
  it('accepts CRLF line endings and a BOM', () => {
    const { ast } = parseDockerfile('\uFEFF# escape=`\r\nFROM a\r\nRUN b `\r\n  c\r\n');
    expect(dump(ast)).toBe('(from "a")\n(run "b   c")');
  });
  it('keeps the keyword as written and lower-cases it only in the dump', () => {
    const { ast } = parseDockerfile('From a AS b\nmaintainer me\n');
    expect(ast.children.map((c) => c.value)).toEqual(['From', 'maintainer']);
    expect(dump(ast)).toBe('(from "a" "AS" "b")\n(maintainer "me")');
  });
  it('reports errors inside an instruction with its line range', () => {
    const err = parseError('FROM a\nENV \\\n  PATH\n');
    expect(err.message).toBe('ENV must have two arguments');
    expect(err.location).toEqual({ file: 'Dockerfile', line: 2, column: 1, endLine: 3 });
    expect(parseError('FROM a\nLABEL a=b c').message).toBe(
      'Syntax error - can\'t find = in "c". Must be of the form: name=value',
    );
  });
  it('rejects lines longer than 64 KiB', () => {
    expect(parseError(`FROM a\nRUN ${'x'.repeat(70_000)}\n`).message).toBe(
      'dockerfile line greater than max allowed size of 65535',
    );
  });
});

describe('dump quoting (Go strconv.Quote)', () => {
  it('uses Go escapes, not JSON ones', () => {
    const { ast } = parseDockerfile(
      'CMD ["\\u0007\\u000b\\u0000\\u007f", "\\u00a0\\u2028\\ufeff", "é♥😀\'"]',
    );
    expect(dump(ast)).toBe('(cmd "\\a\\v\\x00\\x7f" "\\u00a0\\u2028\\ufeff" "é♥😀\'")');
  });
  it('prints builder flags as a Go %q slice', () => {
    const { ast } = parseDockerfile('COPY --chmod="755" --from=\'x y\' a b');
    expect(dump(ast)).toBe('(copy ["--chmod=755" "--from=x y"] "a" "b")');
  });
});
