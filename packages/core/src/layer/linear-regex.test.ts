// The linear matcher against JavaScript's backtracking RegExp (the matcher before, kept here as the
// oracle) on random patterns through both compilers, and the pathological patterns of issue 13 item 6.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { globMatch, globToRegex } from './glob.js';
import { compileToGoRegex, createIgnoreMatcher, goRegexToJs } from './ignore.js';
import { LinearRegex } from './linear-regex.js';

/** Pattern pieces that exercise every construct the compilers emit. */
const globPiece = fc.constantFrom(
  'a',
  'b',
  '/',
  '.',
  '*',
  '?',
  '[ab]',
  '[^a]',
  '[a-b]',
  '\\*',
  '\\[',
  'é',
  '😀',
);
const ignorePiece = fc.constantFrom(
  'a',
  'b',
  '/',
  '.',
  '*',
  '**',
  '**/',
  '?',
  '[ab]',
  '[^a]',
  '[[:alpha:]]',
  '\\d',
  '\\b',
  '\\pL',
  '^',
  '$',
  '(',
  '+',
  'é',
);
const name = fc.array(fc.constantFrom('a', 'b', '/', '.', '*', '1', 'é', '😀', '\n', ' '), { maxLength: 12 });

/** The regex text, or undefined when the compilers reject the pattern (both engines then never run). */
function ignoreRegex(pattern: string): string | undefined {
  const { type, source } = compileToGoRegex(pattern);
  if (type !== 'regexp') return undefined;
  try {
    return goRegexToJs(source);
  } catch {
    return undefined;
  }
}

describe('LinearRegex', () => {
  it('answers as RegExp does for COPY wildcards (glob.ts)', () => {
    fc.assert(
      fc.property(fc.array(globPiece, { maxLength: 8 }), name, (pieces, chars) => {
        let source: string;
        try {
          source = `^${globToRegex(pieces.join(''))}$`;
        } catch {
          return; // malformed pattern: an error either way
        }
        const text = chars.join('');
        expect(new LinearRegex(source).test(text)).toBe(new RegExp(source, 'su').test(text));
      }),
      { numRuns: 1500 },
    );
  });

  it('answers as RegExp does for .dockerignore patterns (ignore.ts)', () => {
    fc.assert(
      fc.property(fc.array(ignorePiece, { maxLength: 8 }), name, (pieces, chars) => {
        const source = ignoreRegex(pieces.join(''));
        if (source === undefined) return;
        const text = chars.join('');
        expect(new LinearRegex(source).test(text)).toBe(new RegExp(source, 'u').test(text));
      }),
      { numRuns: 1500 },
    );
  });

  it('handles alternation, repetition and the never-matching group', () => {
    const cases: [string, string, boolean][] = [
      ['^(?:ab|c)+$', 'abcab', true],
      ['^(?:ab|c)+$', 'abca', false],
      ['^a?b*$', 'bbb', true],
      ['(?!)', 'anything', false],
      ['\\bfoo\\b', 'a foo b', true],
      ['\\Bfoo', 'a foo', false],
      ['^[^]$', '\n', true],
    ];
    for (const [source, text, expected] of cases) {
      expect(new LinearRegex(source).test(text), source).toBe(expected);
      expect(new RegExp(source, 'u').test(text), source).toBe(expected);
    }
    expect(() => new LinearRegex('(a)')).toThrow(/not supported/);
    expect(() => new LinearRegex('a{2}')).toThrow(/not supported/);
  });
});

describe('pathological patterns (issue 13 item 6)', () => {
  const long = 'a'.repeat(200);
  const within = (ms: number, fn: () => unknown) => {
    const started = performance.now();
    fn();
    expect(performance.now() - started).toBeLessThan(ms);
  };

  it('COPY wildcards: *a*a*a*a*a*a*b on a 200-character name', () => {
    within(100, () => expect(globMatch('*a*a*a*a*a*a*b', long)).toBe(false));
    within(100, () => expect(globMatch('*a*a*a*a*b', long)).toBe(false));
    expect(globMatch('*a*a*a*a*b', `${long}b`)).toBe(true);
  });

  it('.dockerignore: *a*a*a*a*b, and **/ x8 + a on a 40-deep path with its parents', () => {
    const ignore = createIgnoreMatcher(['*a*a*a*a*a*a*b']);
    within(100, () => expect(ignore.matches(long)).toBe(false));
    const deep = createIgnoreMatcher([`${'**/'.repeat(8)}a`]);
    const path = Array.from({ length: 40 }, () => 'b').join('/');
    within(100, () => expect(deep.matches(`${path}/c`)).toBe(false));
    expect(deep.matches(`${path}/a`)).toBe(true);
    let parent: ReturnType<typeof deep.matchWithParent>['info'] | undefined;
    within(100, () => {
      for (let depth = 1; depth <= 40; depth++) {
        parent = deep.matchWithParent(Array.from({ length: depth }, () => 'b').join('/'), parent).info;
      }
    });
  });

  it('--exclude patterns take the same matcher', () => {
    const exclude = createIgnoreMatcher(['*a*a*a*a*a*a*a*a*b'], { origin: 'COPY --exclude' });
    within(100, () => expect(exclude.matches(`x/${long}`)).toBe(false));
  });
});
