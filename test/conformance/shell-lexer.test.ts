// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the test inputs are shell words, not templates
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { processWord, processWords } from '../../packages/core/src/dockerfile/parse/shell-lexer.js';
import { WharfError } from '../../packages/core/src/errors.js';
import { peerSuite } from './peer-suites.js';

const suite = peerSuite('buildkit-parser', 'shell-lexer');

interface EnvVarCase {
  readonly line: number;
  readonly platform: string;
  readonly input: string;
  readonly expected: string;
}

function envVarCases(): EnvVarCase[] {
  const out: EnvVarCase[] = [];
  readFileSync(join(suite, 'envVarTest'), 'utf8')
    .split('\n')
    .forEach((text, i) => {
      if (text.trim() === '' || text.startsWith('#')) return;
      const [platform = '', input = '', expected = ''] = text.split('|').map((f) => f.trim());
      out.push({ line: i + 1, platform, input, expected });
    });
  return out;
}

describe('shell-lexer/envVarTest', () => {
  const env = ['PWD=/home', 'SHELL=bash', 'KOREAN=한국어', 'NULL='];
  const all = envVarCases();
  const run = (c: EnvVarCase, windows: boolean) => {
    const process = () => processWord(c.input, env, { caseInsensitiveEnv: windows }).value;
    if (c.expected === 'error') expect(process).toThrow(WharfError);
    else expect(process()).toBe(c.expected);
  };
  it.each(all.filter((c) => c.platform !== 'W'))('unix line $line: $input → $expected', (c) => run(c, false));
  it.each(all.filter((c) => c.platform !== 'U'))('windows line $line: $input → $expected', (c) =>
    run(c, true),
  );
});

interface WordsCase {
  readonly line: number;
  readonly input: string;
  readonly expected: string[] | 'error';
  readonly env: string[];
}

function wordsCases(): WordsCase[] {
  const out: WordsCase[] = [];
  const env: string[] = [];
  readFileSync(join(suite, 'wordsTest'), 'utf8')
    .split('\n')
    .forEach((text, i) => {
      if (text.startsWith('#') || text === '') return;
      if (text.startsWith('ENV ')) {
        env.push(text.slice(4).trimStart());
        return;
      }
      const fields = text.split('|');
      if (fields.length !== 2) throw new Error(`wordsTest line ${i + 1}: expected one |`);
      const expected = (fields[1] as string).trimStart();
      out.push({
        line: i + 1,
        input: (fields[0] as string).trim(),
        expected: expected === 'error' ? 'error' : expected.split(','),
        env: [...env],
      });
    });
  return out;
}

describe('shell-lexer/wordsTest', () => {
  it.each(wordsCases())('line $line: $input', (c) => {
    if (c.expected === 'error') expect(() => processWords(c.input, c.env)).toThrow(WharfError);
    else expect(processWords(c.input, c.env)).toEqual(c.expected);
  });
});
