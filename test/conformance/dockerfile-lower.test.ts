/**
 * BuildKit's own cases for this layer (the peer suite buildkit-parser, read in place): every parser
 * testfile lowers (or fails the way BuildKit fails), and the instruction-level tables of
 * `extracted/instruction-cases.json` (argument counts, flags, ONBUILD rules, heredocs, HEALTHCHECK,
 * duration minimum, doc comments) hold.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { describe, expect, test } from 'vitest';
import { docComment, lowerDockerfile } from '../../packages/core/src/dockerfile/lower/index.js';
import { chompHeredocContent, parseDockerfile } from '../../packages/core/src/dockerfile/parse/index.js';
import { isWharfError } from '../../packages/core/src/errors.js';
import type { Instruction } from '../../packages/core/src/ir/types.js';
import { instructionCases } from './buildkit-instruction-cases.js';
import { peerSuite } from './peer-suites.js';

const peer = pathToFileURL(`${peerSuite('buildkit-parser')}/`);
const testfiles = new URL('testfiles/', peer);
const cases = instructionCases();

/**
 * Testfiles BuildKit itself rejects when it turns the AST into instructions (the parser accepts them all):
 * `code line: message`.
 */
const EXPECTED_PEER_ERRORS: Readonly<Record<string, string>> = {
  // ENV name='a\'b' — in single quotes `\` is literal, so the quote is left open.
  env: `DOCKERFILE_EXPAND 12: failed to process "'a\\\\'b'": unexpected end of statement while looking for matching single-quote`,
  // ADD \conf\\" /.znc — an unterminated double quote.
  escapes:
    'DOCKERFILE_EXPAND 6: failed to process "\\\\conf\\\\\\\\\\"": unexpected end of statement while looking for matching double-quote',
  flags: 'DOCKERFILE_INSTRUCTION 3: unknown flag: --user',
  health: 'DOCKERFILE_INSTRUCTION 4: HEALTHCHECK requires at least one argument',
  // These files hold a single CMD and no FROM.
  'jeztah-invalid-json-json-inside-string': 'DOCKERFILE_INSTRUCTION 1: no build stage in current context',
  'jeztah-invalid-json-json-inside-string-double':
    'DOCKERFILE_INSTRUCTION 1: no build stage in current context',
  'jeztah-invalid-json-single-quotes': 'DOCKERFILE_INSTRUCTION 1: no build stage in current context',
  'jeztah-invalid-json-unterminated-bracket': 'DOCKERFILE_INSTRUCTION 1: no build stage in current context',
  'jeztah-invalid-json-unterminated-string': 'DOCKERFILE_INSTRUCTION 1: no build stage in current context',
  json: 'DOCKERFILE_INSTRUCTION 1: no build stage in current context',
};

function errorOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (error) {
    if (!isWharfError(error)) throw error;
    return `${error.code} ${error.location?.line}: ${error.message}`;
  }
}

describe('BuildKit parser testfiles lower', () => {
  const names = readdirSync(testfiles).sort();
  test('all 33 are here', () => expect(names).toHaveLength(33));
  for (const name of names) {
    test(name, () => {
      const text = readFileSync(new URL(`${name}/Dockerfile`, testfiles), 'utf8');
      const error = errorOf(() => lowerDockerfile(text, { file: `${name}/Dockerfile` }));
      const expected = EXPECTED_PEER_ERRORS[name];
      if (expected === undefined) expect(error).toBeUndefined();
      else expect(error).toContain(expected);
    });
  }
});

describe('instruction-cases.json', () => {
  describe('errors', () => {
    for (const { dockerfile, expectedErrorContains } of cases.errors) {
      test(JSON.stringify(dockerfile), () => {
        let thrown: unknown;
        try {
          lowerDockerfile(dockerfile);
        } catch (error) {
          thrown = error;
        }
        expect(isWharfError(thrown)).toBe(true);
        if (!isWharfError(thrown)) return;
        expect(thrown.message).toContain(expectedErrorContains);
        expect(thrown.describe()).toMatch(/^Dockerfile:1:1: /);
      });
    }
  });

  const first = (dockerfile: string): Instruction => {
    const stage = lowerDockerfile(`FROM scratch\n${dockerfile}`).stages[0];
    const instruction = stage?.instructions[0];
    if (!instruction) throw new Error('no instruction');
    return instruction;
  };

  describe('COPY heredocs', () => {
    for (const c of cases.copyHeredoc.cases) {
      test(JSON.stringify(c.dockerfile), () => {
        const copy = first(c.dockerfile);
        if (copy.kind !== 'copy') throw new Error(copy.kind);
        expect(copy.dest).toBe(c.destPath);
        expect(copy.sources).toEqual(c.sourcePaths ?? []);
        const contents = (copy.heredocs ?? []).map((h) => ({
          path: h.name,
          data: h.chomp ? chompHeredocContent(h.content) : h.content,
          expand: h.expand,
        }));
        expect(contents).toEqual(c.sourceContents ?? []);
      });
    }
  });

  describe('RUN heredocs', () => {
    for (const c of cases.runHeredoc.cases) {
      test(JSON.stringify(c.dockerfile), () => {
        const run = first(c.dockerfile);
        if (run.kind !== 'run') throw new Error(run.kind);
        expect(run.command).toEqual(
          c.prependShell ? { form: 'shell', script: c.cmdLine.join(' ') } : { form: 'exec', argv: c.cmdLine },
        );
        const files = (run.heredocs ?? []).map((h) => ({ name: h.name, data: h.content, chomp: h.chomp }));
        expect(files).toEqual(c.files ?? []);
      });
    }
  });

  test('HEALTHCHECK shell form is CMD-SHELL (a shell command)', () => {
    expect(first('HEALTHCHECK CMD hello world')).toMatchObject({
      kind: 'healthcheck',
      check: { test: 'cmd', command: { form: 'shell', script: 'hello world' } },
    });
  });

  describe('duration flags', () => {
    for (const c of cases.durationFlags.cases) {
      test(c.value, () => {
        const run = () => first(`HEALTHCHECK --interval=${c.value} CMD ["true"]`);
        if (c.ok) expect(run()).toMatchObject({ check: { interval: c.value } });
        else expect(run).toThrow(c.errorContains ?? '');
      });
    }
  });

  test('doc comments', () => {
    const { dockerfile } = cases.docComments;
    const graph = lowerDockerfile(dockerfile);
    const [argFoo, argBar] = graph.stages[0]?.instructions ?? [];
    expect(argFoo).toMatchObject({ kind: 'arg', args: [{ name: 'foo' }], comments: ['this is irrelevant'] });
    expect(docComment(argFoo?.comments, 'foo')).toBe('');
    expect(docComment(argBar?.comments, 'bar')).toBe('defines bar');
    expect(docComment(argBar?.comments, 'baz')).toBe('is something else');
    // The IR has no place for comments above FROM or global ARGs (yet); the AST has them.
    const [globalArg, from] = parseDockerfile(dockerfile).ast.children;
    expect(docComment(globalArg?.prevComment, 'foo')).toBe('sets foo');
    expect(docComment(from?.prevComment, 'base')).toBe('defines first stage');
    expect(graph.args).toEqual([{ name: 'foo', default: 'bar' }]);
    expect(graph.stages[0]?.name).toBe('base');
  });
});
