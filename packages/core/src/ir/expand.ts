/**
 * Expansion of IR Words (see types.ts): `$NAME`, `${NAME}`, `${NAME:-word}`, `${NAME-word}`,
 * `${NAME:+word}`, `${NAME+word}`, `${NAME:?message}`, `${NAME?message}` and the pattern forms
 * `${NAME#p}`, `${NAME##p}`, `${NAME%p}`, `${NAME%%p}`, `${NAME/p/r}`, `${NAME//p/r}`, as BuildKit
 * expands them in FROM, WORKDIR, ENV, LABEL, USER, EXPOSE, VOLUME, STOPSIGNAL and COPY/ADD.
 * `\$` is a literal dollar; in a run of backslashes right before a `$`, each pair `\\` is one literal
 * backslash (so `\\$HOME` is a backslash and then the value of HOME, `\\\$` a backslash and a dollar).
 * Every other character, backslashes not before a `$` included, is literal (quotes were removed by the
 * front end).
 *
 * Definitions are untrusted: an expanded value is limited to {@link MAX_EXPANDED_LENGTH} characters and
 * `${…}` nesting to {@link MAX_EXPANSION_DEPTH} levels (`IR_EXPANSION_LIMIT`, naming the variable and the
 * limit; see limits.ts).
 *
 * @example expandWord('${APP:-/srv}/bin', (n) => undefined) // '/srv/bin'
 */
import { WharfError } from '../errors.js';
import { MAX_EXPANDED_LENGTH, MAX_EXPANSION_DEPTH, shorten } from './limits.js';
import { replacePattern, trimPrefix, trimSuffix } from './shell-pattern.js';

/** Looks a variable up: a string if set (possibly empty), `undefined` if unset. */
export type Lookup = (name: string) => string | undefined;

export interface Expansion {
  readonly value: string;
  /** Variables the word referred to (set or not), for cache keys and "unused build-arg" warnings. */
  readonly used: readonly string[];
}

export function expandWord(word: string, lookup: Lookup): string {
  return expandWordWithUse(word, lookup).value;
}

export function expandWordWithUse(word: string, lookup: Lookup): Expansion {
  const used = new Set<string>();
  const value = new Expander(word, (name) => {
    used.add(name);
    return lookup(name);
  }).expand();
  return { value, used: [...used] };
}

// Words split into literal text and expansions (for writers that must treat the two apart: the emitter,
// stage-name patterns).

export type WordPart =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'expansion'; readonly text: string };

// BuildKit's processName: a run of digits, or a letter/underscore followed by letters, digits, underscores
// (Unicode classes, as Go's unicode.IsLetter/IsDigit), or one special parameter.
const NAME = /^(?:\p{Nd}+|[\p{L}_][\p{L}\p{Nd}_]*|[@*#?\-$!])/u;

/** Split a Word into literal text and expansions. A `$` that starts no expansion is literal (as in BuildKit). */
export function parseWord(word: string): WordPart[] {
  const parts: WordPart[] = [];
  let text = '';
  let i = 0;
  while (i < word.length) {
    const ch = word[i] as string;
    if (ch === '\\') {
      // a run of backslashes before a `$`: pairs are literal backslashes, an odd one makes the `$` literal
      let end = i;
      while (word[end] === '\\') end++;
      if (word[end] === '$') {
        const run = end - i;
        text += '\\'.repeat(Math.floor(run / 2)) + (run % 2 === 1 ? '$' : '');
        i = end + (run % 2);
        continue;
      }
    }
    if (ch === '$') {
      const end = expansionEnd(word, i);
      if (end > i + 1) {
        if (text !== '') parts.push({ kind: 'text', text });
        text = '';
        parts.push({ kind: 'expansion', text: word.slice(i, end) });
        i = end;
        continue;
      }
    }
    text += ch;
    i += 1;
  }
  if (text !== '') parts.push({ kind: 'text', text });
  return parts;
}

function expansionEnd(word: string, dollar: number): number {
  if (word[dollar + 1] === '{') {
    let depth = 0;
    for (let j = dollar + 1; j < word.length; j++) {
      const ch = word[j];
      if (ch === '\\') j++;
      else if (ch === '{') depth++;
      else if (ch === '}' && --depth === 0) return j + 1;
    }
    return word.length; // unterminated: BuildKit reports "missing '}'" for the user's text as written
  }
  const name = NAME.exec(word.slice(dollar + 1));
  return name ? dollar + 1 + name[0].length : dollar + 1;
}

/** True when the Word references a variable: a `$` after an even run of backslashes (none included). */
export function hasExpansion(word: string): boolean {
  return /(^|[^\\])(\\\\)*\$/.test(word);
}

/**
 * A Word with no expansion as the literal text it stands for (`\$` → `$`, `\\$` → `\$`).
 *
 * @example literalWord('price: \\$5') // 'price: $5'
 */
export function literalWord(word: string): string {
  return expandWord(word, () => undefined);
}

/** The length of the run of backslashes at `at` when a `$` follows it, else 0. */
function backslashesBeforeDollar(text: string, at: number): number {
  let end = at;
  while (text[end] === '\\') end++;
  return text[end] === '$' ? end - at : 0;
}

const nameStart = /[A-Za-z_]/;
const nameChar = /[A-Za-z0-9_]/;

class Expander {
  #pos = 0;
  #depth = 0;
  constructor(
    private readonly text: string,
    private readonly lookup: Lookup,
  ) {}

  /** Expands up to the end of the text, or up to `stop` (unescaped, at brace depth 0) when given. */
  expand(stop?: string): string {
    if (stop === undefined) return this.#expand(undefined);
    // a nested word (inside `${…}`)
    if (this.#depth === MAX_EXPANSION_DEPTH) {
      this.#fail(
        `\${…} expressions nested more than ${MAX_EXPANSION_DEPTH} deep in ${shorten(this.text)}`,
        'IR_EXPANSION_LIMIT',
      );
    }
    this.#depth++;
    try {
      return this.#expand(stop);
    } finally {
      this.#depth--;
    }
  }

  #expand(stop: string | undefined): string {
    let out = '';
    while (this.#pos < this.text.length) {
      const c = this.text[this.#pos] as string;
      if (stop?.includes(c)) return out;
      const run = c === '\\' ? backslashesBeforeDollar(this.text, this.#pos) : 0;
      if (run > 0) {
        out += '\\'.repeat(Math.floor(run / 2));
        this.#pos += run;
        if (run % 2 === 1) {
          out += '$';
          this.#pos++;
        }
      } else if (c === '\\' && stop !== undefined && stop.includes(this.text[this.#pos + 1] ?? '')) {
        out += this.text[this.#pos + 1];
        this.#pos += 2;
      } else if (c === '$') {
        const at = this.#pos;
        out += this.#variable();
        if (out.length > MAX_EXPANDED_LENGTH) this.#tooLong(this.text.slice(at, this.#pos));
      } else {
        out += c;
        this.#pos++;
      }
    }
    if (stop !== undefined) this.#fail(`missing '${stop === '}' ? '}' : stop}' in ${this.text}`);
    return out;
  }

  #variable(): string {
    this.#pos++; // $
    const next = this.text[this.#pos];
    if (next === '{') {
      this.#pos++;
      return this.#braced();
    }
    const name = this.#name();
    // A lone `$` (or `$` before something that is not a name) is literal, as in BuildKit.
    return name === '' ? '$' : (this.lookup(name) ?? '');
  }

  #name(): string {
    const start = this.#pos;
    if (!nameStart.test(this.text[this.#pos] ?? '')) return '';
    while (nameChar.test(this.text[this.#pos] ?? '')) this.#pos++;
    return this.text.slice(start, this.#pos);
  }

  #braced(): string {
    const name = this.#name();
    if (name === '') this.#fail(`bad substitution in ${this.text}: a variable name must follow \${`);
    const op = this.text[this.#pos];
    if (op === undefined) this.#fail(`missing '}' in ${this.text}`);
    if (op === '}') {
      this.#pos++;
      return this.lookup(name) ?? '';
    }
    const value = this.lookup(name);
    if (op === ':') {
      const kind = this.text[this.#pos + 1];
      this.#pos += 2;
      const word = this.expand('}');
      this.#pos++;
      if (kind === '-') return value ? value : word;
      if (kind === '+') return value ? word : '';
      if (kind === '?') {
        if (value) return value;
        this.#fail(`${name}: ${word || 'is not allowed to be unset'}`, 'IR_REQUIRED_VARIABLE');
      }
      this.#fail(`unsupported modifier ':${kind}' in ${this.text}`);
    }
    this.#pos++;
    switch (op) {
      case '-':
        return this.#then((word) => (value === undefined ? word : value));
      case '+':
        return this.#then((word) => (value === undefined ? '' : word));
      case '?':
        return this.#then((word) => {
          if (value !== undefined) return value;
          return this.#fail(`${name}: ${word || 'is not allowed to be unset'}`, 'IR_REQUIRED_VARIABLE');
        });
      case '#': {
        const greedy = this.#eat('#');
        return this.#then((pattern) => trimPrefix(pattern, value ?? '', greedy));
      }
      case '%': {
        const greedy = this.#eat('%');
        return this.#then((pattern) => trimSuffix(pattern, value ?? '', greedy));
      }
      case '/': {
        const all = this.#eat('/');
        const pattern = this.expand('/}');
        let replacement = '';
        if (this.text[this.#pos] === '/') {
          this.#pos++;
          replacement = this.expand('}');
        }
        this.#pos++;
        return replacePattern(value ?? '', pattern, replacement, all);
      }
      default:
        return this.#fail(`unsupported modifier '${op ?? ''}' in ${this.text}`);
    }
  }

  #eat(char: string): boolean {
    if (this.text[this.#pos] !== char) return false;
    this.#pos++;
    return true;
  }

  /** Expands the word up to `}` and hands it to `fn`. */
  #then(fn: (word: string) => string): string {
    const word = this.expand('}');
    this.#pos++;
    return fn(word);
  }

  #tooLong(reference: string): never {
    this.#fail(
      `${shorten(reference)} makes ${shorten(this.text)} longer than ${MAX_EXPANDED_LENGTH} characters (1 MiB), the limit of an expanded value`,
      'IR_EXPANSION_LIMIT',
    );
  }

  #fail(message: string, code = 'IR_BAD_SUBSTITUTION'): never {
    throw new WharfError(code, message, {
      hint:
        code === 'IR_EXPANSION_LIMIT'
          ? `values are limited to ${MAX_EXPANDED_LENGTH} characters and \${…} nesting to ${MAX_EXPANSION_DEPTH} levels; build a large value in a RUN step or a file`
          : 'check the ${…} expression; write \\$ for a literal dollar',
    });
  }
}
