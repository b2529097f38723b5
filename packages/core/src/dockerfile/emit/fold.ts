/**
 * Folding long one-line RUN scripts at top-level `&&`, losslessly.
 *
 * BuildKit joins a line ending in `\` (plus optional blanks) with the next one by deleting the `\` and the
 * line break and keeping the next line's leading whitespace as is. So a break is lossless when nothing is
 * inserted or removed around it. We break *just before* `&&` and keep the script's own space in front of the
 * backslash:
 *
 *     RUN apt-get update \
 *     && apt-get install -y curl
 *
 * joins back to `apt-get update && apt-get install -y curl` byte for byte. Indenting the continuation lines
 * (the common hand-written style) would add the indentation to the script, so continuation lines start at
 * column 0. They start with `&&`, never with `#` (BuildKit would drop them as comments) and are never empty
 * (BuildKit skips empty continuation lines).
 */

/** Lines longer than this (whole instruction on one line) are folded when they have a top-level `&&`. */
export const FOLD_WIDTH = 80;

type Context = 'top' | 'paren' | 'double' | 'backtick';

/**
 * Offsets of the `&&` operators that are outside quotes, command substitutions, subshells and comments, and
 * that have a space before them and a space or tab after them.
 */
export function topLevelAnds(script: string): number[] {
  return topLevel(script, (i) =>
    script[i] === '&' &&
    script[i + 1] === '&' &&
    script[i - 1] === ' ' &&
    (script[i + 2] === ' ' || script[i + 2] === '\t')
      ? 2
      : 0,
  ).filter((i) => script[i] === '&');
}

/**
 * Offsets in a (joined) script where a blank run of two or more starts outside quotes, substitutions and
 * comments: where a `\`-continued line's indentation used to be.
 */
export function topLevelBlankRuns(script: string): number[] {
  return topLevel(script, (i) =>
    /[ \t]/.test(script[i] ?? '') && /[ \t]/.test(script[i + 1] ?? '') ? 1 : 0,
  );
}

/**
 * Offsets at top level (outside quotes, command substitutions, subshells and comments) where `match`
 * returns a length > 0; the scan skips that many characters after a match.
 */
function topLevel(script: string, match: (i: number) => number): number[] {
  const found: number[] = [];
  const stack: Context[] = ['top'];
  for (let i = 0; i < script.length; i++) {
    const ch = script[i];
    const context = stack[stack.length - 1];
    if (context === 'double') {
      if (ch === '\\') i++;
      else if (ch === '"') stack.pop();
      else if (ch === '`') stack.push('backtick');
      else if (ch === '$' && script[i + 1] === '(') {
        stack.push('paren');
        i++;
      }
      continue;
    }
    if (context === 'backtick') {
      if (ch === '\\') i++;
      else if (ch === '`') stack.pop();
      continue;
    }
    // 'top' or 'paren': ordinary shell syntax
    if (ch === '\\') i++;
    else if (ch === "'") {
      const close = script.indexOf("'", i + 1);
      i = close === -1 ? script.length : close;
    } else if (ch === '"') stack.push('double');
    else if (ch === '`') stack.push('backtick');
    else if (ch === '(') stack.push('paren');
    else if (ch === ')') {
      if (context === 'paren') stack.pop();
    } else if (ch === '#' && (i === 0 || /[\s;&|(]/.test(script[i - 1] as string))) {
      break; // a shell comment runs to the end of the (single-line) script
    } else if (context === 'top') {
      const length = match(i);
      if (length > 0) {
        found.push(i);
        i += length - 1;
        while (length === 1 && /[ \t]/.test(script[i + 1] ?? '')) i++; // one break per blank run
      }
    }
  }
  return found;
}

/**
 * The physical lines of a folded script (the caller puts the instruction prefix before the first one). Each
 * line but the last ends with `\`. Returns one line when there is nothing to fold.
 */
export function foldScript(script: string): string[] {
  const breaks = topLevelAnds(script);
  const lines: string[] = [];
  let start = 0;
  for (const at of breaks) {
    lines.push(`${script.slice(start, at)}\\`);
    start = at;
  }
  lines.push(script.slice(start));
  return lines;
}

/**
 * BuildKit's continuation joining for one instruction's physical lines (used by tests to prove losslessness):
 * a line ending in an unescaped `\` plus optional blanks continues; the `\` and blanks go; the next line is
 * appended untrimmed; comment lines and empty lines inside a continuation are skipped.
 */
export function joinContinuations(lines: readonly string[]): string {
  let out = '';
  let continuing = false;
  for (const line of lines) {
    if (continuing && (/^\s*#/.test(line) || /^\s*$/.test(line))) continue;
    const match = /(^|[^\\])\\[ \t]*$/.exec(line);
    if (match) {
      out += line.slice(0, match.index + (match[1] ?? '').length);
      continuing = true;
    } else {
      out += line;
      continuing = false;
      break;
    }
  }
  return out;
}
