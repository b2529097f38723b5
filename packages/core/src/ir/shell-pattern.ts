/**
 * Shell wildcard patterns for `${VAR#pattern}`, `${VAR%pattern}` and `${VAR/pattern/replacement}`,
 * as BuildKit's lexer handles them: `*` and `?` only (no bracket expressions), matched through a
 * regular expression with Go's semantics.
 */
import { WharfError } from '../errors.js';
import { MAX_EXPANDED_LENGTH, shorten } from './limits.js';

const REGEX_SPECIAL = new Set(['[', ']', '{', '}', '.', '+', '(', ')', '|', '^', '$']);

/** Converts a shell pattern to a RegExp; `anchored` matches only at the start. Throws on a bad escape. */
export function shellPatternToRegExp(pattern: string, greedy: boolean, anchored: boolean): RegExp {
  const chars = Array.from(pattern);
  let out = anchored ? '^' : '';
  // Go's `.` matches anything but a newline.
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
      // `}` and `/` are escaped to survive `${…}`; the escape is not part of the pattern.
      const peek = chars[i + 1];
      if (peek === '}' || peek === '/') continue;
      out += '\\';
      tok = chars[++i] ?? '';
      if (tok !== '*' && tok !== '?' && tok !== '\\') {
        throw new WharfError('DOCKERFILE_EXPAND', `invalid escape '\\${tok}'`);
      }
    } else if (REGEX_SPECIAL.has(tok)) {
      out += '\\';
    }
    out += tok;
  }
  return new RegExp(out, 'u');
}

/** Reverses a pattern without reversing its escapes: `a\*c` → `c\*a`. */
function reversePattern(pattern: string): string {
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

function reverse(s: string): string {
  return Array.from(s).reverse().join('');
}

/** `${VAR#pattern}` (shortest) / `${VAR##pattern}` (greedy). */
export function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const m = shellPatternToRegExp(pattern, greedy, true).exec(value);
  return m ? value.slice(m.index + m[0].length) : value;
}

/** `${VAR%pattern}` (shortest) / `${VAR%%pattern}` (greedy), by trimming a prefix of the reversed value. */
export function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  return reverse(trimPrefix(reversePattern(pattern), reverse(value), greedy));
}

/**
 * `${VAR/pattern/replacement}` and, with `all`, `${VAR//pattern/replacement}`. Every match can add a
 * whole replacement, so the result is checked against {@link MAX_EXPANDED_LENGTH} as it grows.
 */
export function replacePattern(value: string, pattern: string, replacement: string, all: boolean): string {
  const re = shellPatternToRegExp(pattern, true, false);
  if (!all) {
    const m = re.exec(value);
    return m ? value.slice(0, m.index) + replacement + value.slice(m.index + m[0].length) : value;
  }
  return goReplaceAll(new RegExp(re.source, 'gu'), value, replacement, pattern);
}

/**
 * Go's `Regexp.ReplaceAllString`: empty matches right after a match are skipped, and `$name`,
 * `${name}`, `$$` in the replacement are expanded Go's way (these patterns have no groups, so only
 * `$0` is non-empty).
 */
function goReplaceAll(re: RegExp, src: string, template: string, pattern: string): string {
  let out = '';
  let lastMatchEnd = 0;
  let searchPos = 0;
  while (searchPos <= src.length) {
    re.lastIndex = searchPos;
    const m = re.exec(src);
    if (!m) break;
    const start = m.index;
    const end = start + m[0].length;
    out += src.slice(lastMatchEnd, start);
    if (end > lastMatchEnd || start === 0) out += goExpand(template, m[0]);
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
