import { describe, expect, it } from 'vitest';
import type { WharfError } from '../../errors.js';
import { dump } from './dump.js';
import { parseJsonArray } from './json-form.js';
import { DockerfileParseError } from './parse-error.js';
import { parseDockerfile } from './parser.js';

// BuildKit's parser cases (testfiles, heredoc/JSON/instruction tables) are in the conformance project
// (test/conformance/dockerfile-parser.test.ts).

function parseError(text: string): DockerfileParseError {
  try {
    parseDockerfile(text);
  } catch (err) {
    if (err instanceof DockerfileParseError) return err;
    throw err;
  }
  throw new Error(`expected a parse error for ${JSON.stringify(text)}`);
}

describe('heredocs and JSON arrays', () => {
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
  it('falls back to the shell form for anything that is not a JSON array', () => {
    for (const rest of ['[1e999]', "['a']", '["a"', '["a" "b"]', 'a', '["a\\"]'])
      expect(parseJsonArray(rest)).toBeUndefined();
  });
  it("reads the first JSON array and ignores what follows, as Go's json.Decoder does", () => {
    // kaniko's Dockerfile_test_cmd: `ENTRYPOINT ["myentrypoint"] # This should clear out CMD`;
    // BuildKit 20.10 sets Entrypoint ["myentrypoint"].
    expect(parseJsonArray('["myentrypoint"] # This should clear out CMD')).toEqual(['myentrypoint']);
    expect(parseJsonArray('["a", "]"]x')).toEqual(['a', ']']);
    expect(parseJsonArray('["a\\"", "b"] ["c"]')).toEqual(['a"', 'b']);
    expect(() => parseJsonArray('["a", ["b"]] tail')).toThrow(/arrays must be comprised of strings only/);
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
