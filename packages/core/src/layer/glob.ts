/**
 * COPY source wildcards with Go's `path/filepath.Match` semantics (what BuildKit's fsutil uses):
 * `*` is any run of characters except `/`, `?` one character except `/`, `[...]` a class (`^`
 * negates, `a-z` ranges, `\` escapes), `\x` a literal `x`. No `**`. A malformed pattern is an error.
 */
import { WharfError } from '../errors.js';
import { LinearRegex } from './linear-regex.js';

export type GlobErrorCode = 'COPY_BAD_PATTERN';

/** True when `name` has an unescaped `*`, `?` or `[` (fsutil's `containsWildcards`). */
export function hasWildcards(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name[i];
    if (c === '\\') i++;
    else if (c === '*' || c === '?' || c === '[') return true;
  }
  return false;
}

/**
 * Splits a slash path at its first component with a wildcard (fsutil's `splitWildcards`):
 * `a/b*` → `['a', 'b*']`; `rest` is `''` when there is no wildcard.
 */
export function splitWildcards(p: string): { base: string; rest: string } {
  const parts = p.split('/');
  const i = parts.findIndex(hasWildcards);
  if (i < 0) return { base: p, rest: '' };
  return { base: parts.slice(0, i).join('/'), rest: parts.slice(i).join('/') };
}

const cache = new Map<string, LinearRegex>();

/**
 * Go's `filepath.Match(pattern, name)`; throws `COPY_BAD_PATTERN` for a malformed pattern. Linear in
 * the name whatever the pattern (see linear-regex.ts), as Go's matcher is.
 */
export function globMatch(pattern: string, name: string): boolean {
  let re = cache.get(pattern);
  if (!re) {
    re = new LinearRegex(`^${globToRegex(pattern)}$`);
    if (cache.size > 256) cache.clear();
    cache.set(pattern, re);
  }
  return re.test(name);
}

/** Checks a pattern's syntax; throws `COPY_BAD_PATTERN`. */
export function checkGlob(pattern: string): void {
  globMatch(pattern, '');
}

function bad(pattern: string, why: string): WharfError<GlobErrorCode> {
  return new WharfError<GlobErrorCode>(
    'COPY_BAD_PATTERN',
    `malformed wildcard pattern "${pattern}": ${why}`,
    {
      hint: 'escape a literal *, ? or [ with a backslash, and close every [ with ]',
    },
  );
}

function escapeRegex(ch: string): string {
  return ch.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}

/** The JavaScript regex text of a pattern (exported for the tests that compare matchers). */
export function globToRegex(pattern: string): string {
  const chars = [...pattern];
  let out = '';
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string;
    if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '\\') {
      const next = chars[++i];
      if (next === undefined) throw bad(pattern, 'trailing backslash');
      out += escapeRegex(next);
    } else if (c === '[') {
      i++;
      let negate = false;
      if (chars[i] === '^') {
        negate = true;
        i++;
      }
      const ranges: [number, number][] = [];
      let first = true;
      for (;;) {
        const ch = chars[i];
        if (ch === undefined) throw bad(pattern, 'unclosed [');
        if (ch === ']' && !first) break;
        first = false;
        const lo = classChar(chars, i, pattern);
        i = lo.next;
        let hi = lo;
        if (chars[i] === '-') {
          hi = classChar(chars, i + 1, pattern);
          i = hi.next;
        }
        ranges.push([lo.code, hi.code]);
      }
      // Go never fails on a reversed range; it just never matches.
      const items = ranges
        .filter(([lo, hi]) => lo <= hi)
        .map(([lo, hi]) => (lo === hi ? codeEscape(lo) : `${codeEscape(lo)}-${codeEscape(hi)}`))
        .join('');
      if (negate) out += items === '' ? '[^]' : `[^${items}]`;
      else out += items === '' ? '(?!)' : `[${items}]`;
    } else out += escapeRegex(c);
  }
  return out;
}

function codeEscape(code: number): string {
  return `\\u{${code.toString(16)}}`;
}

/** One class character (Go's `getEsc`): `-` and `]` must be escaped; `\x` is `x`. */
function classChar(chars: readonly string[], i: number, pattern: string): { code: number; next: number } {
  let ch = chars[i];
  if (ch === undefined || ch === '-' || ch === ']') throw bad(pattern, 'bad character class');
  if (ch === '\\') {
    ch = chars[++i];
    if (ch === undefined) throw bad(pattern, 'trailing backslash');
  }
  return { code: ch.codePointAt(0) as number, next: i + 1 };
}
