// The linear shell-pattern matcher against the backtracking RegExp it replaced (kept here as the
// oracle), on random patterns and values, and on patterns that made the RegExp run for hours.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { replacePattern, reversePattern, trimPrefix, trimSuffix } from './shell-pattern.js';

// ---- the previous implementation: the pattern as a JavaScript RegExp with Go's semantics --------
const REGEX_SPECIAL = new Set(['[', ']', '{', '}', '.', '+', '(', ')', '|', '^', '$']);

function oldRegExp(pattern: string, greedy: boolean, anchored: boolean): RegExp {
  const chars = Array.from(pattern);
  let out = anchored ? '^' : '';
  const star = greedy ? '[^\\n]*' : '[^\\n]*?';
  for (let i = 0; i < chars.length; i++) {
    let tok = chars[i] as string;
    if (tok === '*') {
      out += star;
      continue;
    }
    if (tok === '?') {
      out += '[^\\n]';
      continue;
    }
    if (tok === '\\') {
      const peek = chars[i + 1];
      if (peek === '}' || peek === '/') continue;
      out += '\\';
      tok = chars[++i] ?? '';
      if (tok !== '*' && tok !== '?' && tok !== '\\') throw new Error(`invalid escape '\\${tok}'`);
    } else if (REGEX_SPECIAL.has(tok)) {
      out += '\\';
    }
    out += tok;
  }
  return new RegExp(out, 'u');
}

const reverse = (s: string) => Array.from(s).reverse().join('');

function oldTrimPrefix(pattern: string, value: string, greedy: boolean): string {
  const m = oldRegExp(pattern, greedy, true).exec(value);
  return m ? value.slice(m.index + m[0].length) : value;
}

function oldTrimSuffix(pattern: string, value: string, greedy: boolean): string {
  return reverse(oldTrimPrefix(reversePattern(pattern), reverse(value), greedy));
}

function oldReplace(value: string, pattern: string, replacement: string, all: boolean): string {
  const re = oldRegExp(pattern, true, false);
  if (!all) {
    const m = re.exec(value);
    return m ? value.slice(0, m.index) + replacement + value.slice(m.index + m[0].length) : value;
  }
  const global = new RegExp(re.source, 'gu');
  let out = '';
  let lastMatchEnd = 0;
  let searchPos = 0;
  while (searchPos <= value.length) {
    global.lastIndex = searchPos;
    const m = global.exec(value);
    if (!m) break;
    const start = m.index;
    const end = start + m[0].length;
    out += value.slice(lastMatchEnd, start);
    if (end > lastMatchEnd || start === 0) out += replacement;
    lastMatchEnd = end;
    const cp = value.codePointAt(searchPos);
    const width = cp !== undefined && cp > 0xffff ? 2 : 1;
    if (searchPos + width > end) searchPos += width;
    else if (searchPos + 1 > end) searchPos++;
    else searchPos = end;
  }
  return out + value.slice(lastMatchEnd);
}

// ---------------------------------------------------------------------------------------------

/** The outcome of `fn`: its value, or the message of what it threw. */
function outcome(fn: () => string): string {
  try {
    return `ok:${fn()}`;
  } catch (e) {
    return `error:${(e as Error).message}`;
  }
}

const pattern = fc
  .array(
    fc.constantFrom(
      '*',
      '?',
      'a',
      'b',
      '.',
      '\\*',
      '\\?',
      '\\\\',
      '\\}',
      '\\/',
      '\\x',
      '\\',
      'é',
      '😀',
      '\n',
    ),
    {
      maxLength: 7,
    },
  )
  .map((pieces) => pieces.join(''));
const value = fc
  .array(fc.constantFrom('a', 'b', '.', '*', '\n', 'é', '😀'), { maxLength: 10 })
  .map((chars) => chars.join(''));

describe('shell patterns', () => {
  it('trim a prefix or a suffix as the RegExp did', () => {
    fc.assert(
      fc.property(pattern, value, fc.boolean(), (p, v, greedy) => {
        expect(outcome(() => trimPrefix(p, v, greedy))).toBe(outcome(() => oldTrimPrefix(p, v, greedy)));
        expect(outcome(() => trimSuffix(p, v, greedy))).toBe(outcome(() => oldTrimSuffix(p, v, greedy)));
      }),
      { numRuns: 2000 },
    );
  });

  it('replace the first or every match as the RegExp did', () => {
    fc.assert(
      fc.property(pattern, value, fc.boolean(), (p, v, all) => {
        expect(outcome(() => replacePattern(v, p, '<>', all))).toBe(
          outcome(() => oldReplace(v, p, '<>', all)),
        );
      }),
      { numRuns: 2000 },
    );
  });

  it('take linear time on patterns that made the RegExp backtrack for hours', () => {
    const big = 'a'.repeat(200_000);
    const started = performance.now();
    expect(trimPrefix('*a*a*a*a*a*b', big, false)).toBe(big);
    expect(trimSuffix('*a*a*a*a*a*b', big, true)).toBe(big);
    expect(replacePattern(big, '*a*a*a*a*a*b', 'x', true)).toBe(big);
    expect(replacePattern(big, '?', '', true)).toBe('');
    expect(performance.now() - started).toBeLessThan(3000);
  });
});
