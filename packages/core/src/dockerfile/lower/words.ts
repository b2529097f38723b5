/**
 * Raw Dockerfile text → IR Words (see `ir/types.ts`): quote removal and the escape character applied as
 * BuildKit's shell lexer does, but variable references kept as written (`$NAME`, `${NAME:-default}`) and a
 * literal `$` written as `\$` (and a literal backslash right before a `$` as `\\`). Syntax errors are BuildKit's (`failed to process "…": …`), found by running
 * the real lexer with every variable unset and kept.
 */
import type { Word } from '../../ir/types.js';
import type { EscapeToken } from '../parse/index.js';
import { processWord } from '../parse/index.js';

const LETTER_OR_DIGIT = /^[\p{L}\p{Nd}_]$/u;
const DIGIT = /^\p{Nd}$/u;
const SPECIAL = new Set(['@', '*', '#', '?', '-', '$', '!', '0']);
const unset = (): undefined => undefined;

/** One lexer word (a whole ENV value, a COPY path, a flag value…) as a Word. */
export function toWord(raw: string, escapeToken: EscapeToken = '\\'): Word {
  processWord(raw, unset, { escapeToken, skipUnsetEnv: true }); // throws BuildKit's syntax errors
  return new WordReader(Array.from(raw), escapeToken).read();
}

export { hasExpansion } from '../../ir/expand.js';

class WordReader {
  #out = '';
  /** Literal backslashes at the end of the output, written once each: doubled if a `$` follows. */
  #trailingBackslashes = 0;

  constructor(
    private readonly chars: readonly string[],
    private readonly escapeChar: string,
  ) {}

  read(): Word {
    const { chars } = this;
    let i = 0;
    while (i < chars.length) {
      const c = chars[i] as string;
      if (c === "'") {
        const close = chars.indexOf("'", i + 1);
        for (const ch of chars.slice(i + 1, close)) this.#literal(ch);
        i = close + 1;
      } else if (c === '"') {
        i = this.#doubleQuoted(i + 1);
      } else if (c === '$') {
        i = this.#dollar(i);
      } else if (c === this.escapeChar) {
        if (i + 1 < chars.length) this.#literal(chars[i + 1] as string);
        i += 2;
      } else {
        this.#literal(c);
        i++;
      }
    }
    return this.#out;
  }

  #literal(ch: string) {
    if (ch === '$') this.#beforeDollar('\\$');
    else {
      this.#out += ch;
      this.#trailingBackslashes = ch === '\\' ? this.#trailingBackslashes + 1 : 0;
    }
  }

  #expansion(text: string) {
    this.#beforeDollar(text);
  }

  /** Appends text that starts with a `$` (or `\$`): the literal backslashes before it are doubled. */
  #beforeDollar(text: string) {
    this.#out += '\\'.repeat(this.#trailingBackslashes) + text;
    this.#trailingBackslashes = 0;
  }

  /** After the opening quote; returns the index after the closing quote. */
  #doubleQuoted(start: number): number {
    const { chars } = this;
    let i = start;
    while (i < chars.length) {
      const c = chars[i] as string;
      if (c === '"') return i + 1;
      if (c === '$') {
        i = this.#dollar(i);
        continue;
      }
      if (c === this.escapeChar) {
        const after = chars[i + 1];
        if (after === '"' || after === '$' || after === this.escapeChar) {
          this.#literal(after);
          i += 2;
          continue;
        }
      }
      this.#literal(c);
      i++;
    }
    return i;
  }

  /** At a `$`; returns the index after the expansion (or after a lone literal `$`). */
  #dollar(at: number): number {
    const { chars } = this;
    if (chars[at + 1] !== '{') {
      const end = nameEnd(chars, at + 1);
      if (end === at + 1) {
        this.#literal('$');
        return at + 1;
      }
      this.#expansion(chars.slice(at, end).join(''));
      return end;
    }
    const end = braceEnd(chars, at + 2, this.escapeChar);
    this.#expansion(this.#braced(chars.slice(at + 2, end - 1)));
    return end;
  }

  /** `${…}`: the name and modifier verbatim; a `-`/`+`/`?` default word gets quote removal too. */
  #braced(inner: readonly string[]): string {
    const raw = inner.join('');
    if (!inner.some((c) => c === '"' || c === "'" || c === this.escapeChar)) return `\${${raw}}`;
    const name = nameEnd(inner, 0);
    const op = /^(:?[-+?])/.exec(inner.slice(name).join(''))?.[1];
    if (op === undefined) return `\${${raw}}`;
    const word = new WordReader(inner.slice(name + op.length), this.escapeChar).read();
    return `\${${inner.slice(0, name).join('')}${op}${word}}`;
  }
}

/** BuildKit's processName: a run of digits, one special parameter, or letters/digits/underscores. */
function nameEnd(chars: readonly string[], start: number): number {
  const first = chars[start];
  if (first === undefined) return start;
  if (DIGIT.test(first)) {
    let i = start;
    while (i < chars.length && DIGIT.test(chars[i] as string)) i++;
    return i;
  }
  if (SPECIAL.has(first)) return start + 1;
  let i = start;
  while (i < chars.length && LETTER_OR_DIGIT.test(chars[i] as string)) i++;
  return i;
}

/** Index after the `}` closing a `${` whose body starts at `start` (quotes, escapes and nesting skipped). */
function braceEnd(chars: readonly string[], start: number, escapeChar: string): number {
  let i = start;
  while (i < chars.length) {
    const c = chars[i];
    if (c === '}') return i + 1;
    if (c === escapeChar) i += 2;
    else if (c === "'") {
      const close = chars.indexOf("'", i + 1);
      i = close < 0 ? chars.length : close + 1;
    } else if (c === '"') {
      i++;
      while (i < chars.length && chars[i] !== '"') {
        if (chars[i] === escapeChar) i++;
        else if (chars[i] === '$' && chars[i + 1] === '{') {
          i = braceEnd(chars, i + 2, escapeChar);
          continue;
        }
        i++;
      }
      i++;
    } else if (c === '$' && chars[i + 1] === '{') i = braceEnd(chars, i + 2, escapeChar);
    else i++;
  }
  return chars.length;
}
