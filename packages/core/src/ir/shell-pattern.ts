/**
 * Shell wildcard patterns for `${VAR#pattern}`, `${VAR%pattern}` and `${VAR/pattern/replacement}`,
 * as BuildKit's lexer handles them: `*` and `?` only (no bracket expressions), with the answers of the
 * Go regular expression BuildKit builds (`*` is `.*`, lazy for `#`/`%`, `?` is `.`; `.` never matches
 * a newline). Values can be 1 MiB, so the pattern is not run as a backtracking RegExp (`*a*a*a*b` would
 * take hours): a small NFA over the pattern's tokens runs over the value once, in O(value × pattern).
 */
import { WharfError } from '../errors.js';
import { MAX_EXPANDED_LENGTH, shorten } from './limits.js';

type Token = '*' | '?' | { readonly literal: string };

/** The pattern's tokens; throws on a bad escape as BuildKit does. */
function tokenize(pattern: string): Token[] {
  const chars = Array.from(pattern);
  const tokens: Token[] = [];
  for (let i = 0; i < chars.length; i++) {
    const tok = chars[i] as string;
    if (tok === '*' || tok === '?') {
      tokens.push(tok);
      continue;
    }
    if (tok !== '\\') {
      tokens.push({ literal: tok });
      continue;
    }
    // `}` and `/` are escaped to survive `${…}`; the escape is not part of the pattern.
    const next = chars[i + 1];
    if (next === '}' || next === '/') continue;
    i++;
    if (next !== '*' && next !== '?' && next !== '\\') {
      throw new WharfError('DOCKERFILE_EXPAND', `invalid escape '\\${next ?? ''}'`);
    }
    tokens.push({ literal: next });
  }
  return tokens;
}

/**
 * Where matches of `tokens` end, reading `chars` from `from` on: the state set is "how many tokens
 * are matched", a star staying where it is on any character but a newline. `onEnd` gets each
 * position (a code point index) where the whole pattern is matched; with `search`, a match may also
 * start at every position (the set then says "some match ends here"). Stops when no state is left.
 */
function runMatcher(
  tokens: readonly Token[],
  chars: readonly string[],
  from: number,
  search: boolean,
  onEnd: (at: number) => void,
): void {
  const m = tokens.length;
  let current = new Uint8Array(m + 1);
  let next = new Uint8Array(m + 1);
  const close = (set: Uint8Array) => {
    // a star may match nothing: its state also reaches the next one
    for (let k = 0; k < m; k++) if (set[k] && tokens[k] === '*') set[k + 1] = 1;
  };
  current[0] = 1;
  let alive = true;
  for (let i = from; ; i++) {
    if (search) current[0] = 1;
    close(current);
    if (current[m]) onEnd(i);
    if (i === chars.length) return;
    const ch = chars[i] as string;
    next.fill(0);
    alive = false;
    for (let k = 0; k < m; k++) {
      if (!current[k]) continue;
      const token = tokens[k] as Token;
      if (token === '*') {
        if (ch !== '\n') next[k] = 1;
      } else if (token === '?' ? ch !== '\n' : token.literal === ch) next[k + 1] = 1;
    }
    for (let k = 0; k <= m; k++) if (next[k]) alive = true;
    [current, next] = [next, current];
    if (!alive && !search) return;
  }
}

/** The end (code point index) of the shortest or longest match of `tokens` at `from`, if any. */
function matchAt(tokens: readonly Token[], chars: readonly string[], from: number, longest: boolean) {
  let end: number | undefined;
  runMatcher(tokens, chars, from, false, (at) => {
    if (longest || end === undefined) end = at;
  });
  return end;
}

/** `${VAR#pattern}` (shortest) / `${VAR##pattern}` (greedy). */
export function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const chars = Array.from(value);
  const end = matchAt(tokenize(pattern), chars, 0, greedy);
  return end === undefined ? value : chars.slice(end).join('');
}

/**
 * `${VAR%pattern}` (shortest) / `${VAR%%pattern}` (greedy): a prefix of the reversed value, matched by
 * the reversed pattern text (as BuildKit reverses it, so `*\\` is a literal star here).
 */
export function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  const chars = Array.from(value).reverse();
  const end = matchAt(tokenize(reversePattern(pattern)), chars, 0, greedy);
  return end === undefined ? value : chars.slice(end).reverse().join('');
}

/** Reverses a pattern without reversing its escapes: `a\\*c` → `c\\*a`. */
export function reversePattern(pattern: string): string {
  const chars = Array.from(pattern);
  const out: string[] = new Array(chars.length);
  const last = chars.length - 1;
  for (let i = 0; i <= last; ) {
    const tok = chars[i] as string;
    const at = last - i;
    if (tok === '\\' && i !== last) {
      out[at - 1] = tok;
      out[at] = chars[i + 1] as string;
      i += 2;
    } else {
      out[at] = tok;
      i++;
    }
  }
  return out.join('');
}

/** `${VAR/pattern/replacement}` and, with `all`, `${VAR//pattern/replacement}`. */
export function replacePattern(value: string, pattern: string, replacement: string, all: boolean): string {
  const tokens = tokenize(pattern);
  const chars = Array.from(value);
  // starts[i]: some match begins at code point i (the reversed pattern, searched over the reversed value)
  const starts = new Uint8Array(chars.length + 1);
  runMatcher([...tokens].reverse(), [...chars].reverse(), 0, true, (at) => {
    starts[chars.length - at] = 1;
  });
  // nextStart[i]: the first code point index >= i where a match begins (length + 1: none)
  const nextStart = new Int32Array(chars.length + 2).fill(chars.length + 1);
  for (let i = chars.length; i >= 0; i--) nextStart[i] = starts[i] ? i : (nextStart[i + 1] as number);
  // UTF-16 offsets of the code points: the replacement loop speaks RegExp's positions
  const offsets = new Array<number>(chars.length + 1);
  offsets[0] = 0;
  for (let i = 0; i < chars.length; i++)
    offsets[i + 1] = (offsets[i] as number) + (chars[i] as string).length;
  let cursor = 0; // the loop only moves forward
  /** The leftmost-longest match at or after UTF-16 offset `pos`: what Go's leftmost-first finds here. */
  const exec = (pos: number): { start: number; end: number } | undefined => {
    while (cursor <= chars.length && (offsets[cursor] as number) < pos) cursor++;
    const i = cursor <= chars.length ? (nextStart[cursor] as number) : chars.length + 1;
    if (i > chars.length) return undefined;
    const end = matchAt(tokens, chars, i, true) as number;
    return { start: offsets[i] as number, end: offsets[end] as number };
  };
  if (!all) {
    const m = exec(0);
    return m ? value.slice(0, m.start) + replacement + value.slice(m.end) : value;
  }
  return goReplaceAll(exec, value, replacement, pattern);
}

/**
 * Go's `Regexp.ReplaceAllString`: empty matches right after a match are skipped, and `$name`,
 * `${name}`, `$$` in the replacement are expanded Go's way (these patterns have no groups, so only
 * `$0` is non-empty).
 */
function goReplaceAll(
  exec: (pos: number) => { start: number; end: number } | undefined,
  src: string,
  template: string,
  pattern: string,
): string {
  let out = '';
  let lastMatchEnd = 0;
  let searchPos = 0;
  while (searchPos <= src.length) {
    const m = exec(searchPos);
    if (!m) break;
    const { start, end } = m;
    out += src.slice(lastMatchEnd, start);
    if (end > lastMatchEnd || start === 0) out += goExpand(template, src.slice(start, end));
    if (out.length > MAX_EXPANDED_LENGTH) {
      throw new WharfError(
        'IR_EXPANSION_LIMIT',
        `\${…//${shorten(pattern)}/…} makes a value longer than ${MAX_EXPANDED_LENGTH} characters (1 MiB), the limit of an expanded value`,
        { hint: 'replace into a shorter value' },
      );
    }
    lastMatchEnd = end;
    const cp = src.codePointAt(searchPos);
    const width = cp !== undefined && cp > 0xffff ? 2 : 1;
    if (searchPos + width > end) searchPos += width;
    else if (searchPos + 1 > end) searchPos++;
    else searchPos = end;
  }
  return out + src.slice(lastMatchEnd);
}

const NAME_CHAR = /[\p{L}\p{Nd}_]/u;

function goExpand(template: string, match: string): string {
  let out = '';
  let i = 0;
  while (i < template.length) {
    const dollar = template.indexOf('$', i);
    if (dollar < 0) break;
    out += template.slice(i, dollar);
    i = dollar + 1;
    if (template[i] === '$') {
      out += '$';
      i++;
      continue;
    }
    const braced = template[i] === '{';
    let j = braced ? i + 1 : i;
    let name = '';
    for (const ch of template.slice(j)) {
      if (!NAME_CHAR.test(ch)) break;
      name += ch;
    }
    j += name.length;
    if (name === '' || (braced && template[j] !== '}')) {
      out += '$';
      continue;
    }
    i = braced ? j + 1 : j;
    if (/^[0-9]+$/.test(name) && Number(name) === 0) out += match;
  }
  return out + template.slice(i);
}
