/**
 * BuildKit's shell-word lexer (`frontend/dockerfile/shell/lex.go`): quote removal, the escape
 * character, `$VAR` / `${VAR…}` expansion and word splitting, with the same results and errors.
 *
 * @example
 * processWord('he${XXX:-$PWD}xx', ['PWD=/home']).value // 'he/homexx'
 * processWords('a "b c" $V', ['V=d e'])                 // ['a', 'b c', 'd', 'e']
 */
import { WharfError } from '../../errors.js';
import { MAX_EXPANDED_LENGTH, MAX_EXPANSION_DEPTH, shorten } from '../../ir/limits.js';
import { replacePattern, trimPrefix, trimSuffix } from '../../ir/shell-pattern.js';
import type { EscapeToken } from './directives.js';
import { goQuote, isSpace } from './go-text.js';
import type { DockerfileParseErrorCode } from './parse-error.js';

/** `KEY=value` entries (a later entry wins; `KEY` alone means empty), or a lookup function. */
export type ShellEnv = readonly string[] | ((name: string) => string | undefined);

export interface ShellLexOptions {
  /** Default `\`. */
  readonly escapeToken?: EscapeToken | undefined;
  /** Keep quote characters in the output (quotes still group words). */
  readonly rawQuotes?: boolean | undefined;
  /** Keep escape characters in the output. */
  readonly rawEscapes?: boolean | undefined;
  /** Treat quotes as ordinary characters (heredoc bodies). */
  readonly skipProcessQuotes?: boolean | undefined;
  /** Leave references to unset variables as written (`$X`, `${X:-d}`) instead of expanding them. */
  readonly skipUnsetEnv?: boolean | undefined;
  /** Windows: variable names match case-insensitively (`$pwd` finds `PWD`). Only for list envs. */
  readonly caseInsensitiveEnv?: boolean | undefined;
}

export interface ProcessWordResult {
  /** The word with quotes removed and variables expanded. */
  readonly value: string;
  /** The same, split into words on unquoted whitespace (expansions split too, unless quoted). */
  readonly words: readonly string[];
  /** Variable names that were looked up and found, in order of first use. */
  readonly matched: readonly string[];
  /** Variable names that were looked up and not set, in order of first use. */
  readonly unmatched: readonly string[];
}

/** Processes one word: quote removal and variable expansion. Throws `DOCKERFILE_EXPAND`. */
export function processWord(word: string, env: ShellEnv, options: ShellLexOptions = {}): ProcessWordResult {
  const lexer = new WordLexer(word, lookupIn(env, options.caseInsensitiveEnv === true), options);
  try {
    const { result, words } = lexer.processStopOn('', options.rawEscapes === true);
    return { value: result, words, matched: [...lexer.matched], unmatched: [...lexer.unmatched] };
  } catch (err) {
    if (err instanceof LexError) {
      const limit = err instanceof LimitError;
      throw new WharfError<DockerfileParseErrorCode>(
        'DOCKERFILE_EXPAND',
        `failed to process ${goQuote(limit ? shorten(word) : word)}: ${err.message}`,
        {
          cause: err,
          ...(limit
            ? {
                hint: `words are limited to \${…} nesting of ${MAX_EXPANSION_DEPTH} levels and ${MAX_EXPANDED_LENGTH} characters; build a large value in a RUN step or a file`,
              }
            : {}),
        },
      );
    }
    throw err;
  }
}

/** Processes a word and splits the result into words (BuildKit's `ProcessWords`). */
export function processWords(word: string, env: ShellEnv, options: ShellLexOptions = {}): string[] {
  return [...processWord(word, env, options).words];
}

class LexError extends Error {}

/** A word passed a limit of `ir/limits.ts` (its message gets a hint and a shortened word). */
class LimitError extends LexError {}

const isSyntaxError = (err: unknown) => err instanceof LexError && !(err instanceof LimitError);

type Lookup = (name: string) => string | undefined;

function lookupIn(env: ShellEnv, caseInsensitive: boolean): Lookup {
  if (typeof env === 'function') return env;
  const map = new Map<string, string>();
  for (const entry of env) {
    const eq = entry.indexOf('=');
    if (eq < 0) map.set(entry, '');
    else map.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  if (!caseInsensitive) return (name) => map.get(name);
  return (name) => {
    const exact = map.get(name);
    if (exact !== undefined) return exact;
    const upper = name.toUpperCase();
    for (const [key, value] of map) if (key.toUpperCase() === upper) return value;
    return undefined;
  };
}

/** Accumulates the split words while the lexer writes the joined result. */
class Words {
  readonly #words: string[] = [];
  #word = '';
  #inWord = false;

  addChar(ch: string): void {
    if (isSpace(ch)) {
      if (this.#inWord && this.#word.length > 0) {
        this.#words.push(this.#word);
        this.#word = '';
        this.#inWord = false;
      }
    } else {
      this.addRawChar(ch);
    }
  }

  addRawChar(ch: string): void {
    this.#word += ch;
    this.#inWord = true;
  }

  addString(str: string): void {
    for (const ch of str) this.addChar(ch);
  }

  addRawString(str: string): void {
    this.#word += str;
    this.#inWord = true;
  }

  get(): string[] {
    if (this.#word.length > 0) {
      this.#words.push(this.#word);
      this.#word = '';
      this.#inWord = false;
    }
    return this.#words;
  }
}

const EOF = '';
const LETTER = /^\p{L}$/u;
const DIGIT = /^\p{Nd}$/u;
const SPECIAL_PARAMS = new Set(['@', '*', '#', '?', '-', '$', '!', '0']);

class WordLexer {
  readonly matched = new Set<string>();
  readonly unmatched = new Set<string>();
  readonly #chars: string[];
  #pos = 0;
  /** How many `${` are open: bounded so a hostile word cannot exhaust the stack. */
  #depth = 0;
  #rawEscapes: boolean;
  readonly #escape: string;

  constructor(
    word: string,
    private readonly lookup: Lookup,
    private readonly options: ShellLexOptions,
  ) {
    this.#chars = Array.from(word);
    this.#rawEscapes = options.rawEscapes === true;
    this.#escape = options.escapeToken ?? '\\';
  }

  #peek(): string {
    return this.#chars[this.#pos] ?? EOF;
  }

  #next(): string {
    const ch = this.#chars[this.#pos] ?? EOF;
    if (ch !== EOF) this.#pos++;
    return ch;
  }

  #special(ch: string): (() => string) | undefined {
    if (ch === '$') return () => this.#processDollar();
    if (ch === '<') return () => this.#processPossibleHeredoc();
    if (this.options.skipProcessQuotes === true) return undefined;
    if (ch === "'") return () => this.#processSingleQuote();
    if (ch === '"') return () => this.#processDoubleQuote();
    return undefined;
  }

  /** Processes up to `stop` (consumed) or the end (`stop` = EOF). */
  processStopOn(stop: string, rawEscapes: boolean): { result: string; words: string[] } {
    const saved = this.#rawEscapes;
    this.#rawEscapes = rawEscapes;
    try {
      return this.#processStopOn(stop);
    } finally {
      this.#rawEscapes = saved;
    }
  }

  #processStopOn(stop: string): { result: string; words: string[] } {
    let result = '';
    const words = new Words();
    while (this.#peek() !== EOF) {
      let ch = this.#peek();
      if (stop !== EOF && ch === stop) {
        this.#next();
        return { result, words: words.get() };
      }
      const fn = this.#special(ch);
      if (fn) {
        const tmp = fn();
        result += tmp;
        if (result.length > MAX_EXPANDED_LENGTH) {
          throw new LimitError(
            `expands to more than ${MAX_EXPANDED_LENGTH} characters (1 MiB), the limit of a word`,
          );
        }
        if (ch === '$') words.addString(tmp);
        else words.addRawString(tmp);
        continue;
      }
      ch = this.#next();
      if (ch === this.#escape) {
        if (this.#rawEscapes) {
          words.addRawChar(ch);
          result += ch;
        }
        ch = this.#next();
        if (ch === EOF) break;
        words.addRawChar(ch);
      } else {
        words.addChar(ch);
      }
      result += ch;
    }
    if (stop !== EOF) throw new LexError(`unexpected end of statement while looking for matching ${stop}`);
    return { result, words: words.get() };
  }

  /** `<<` plus any `-` and whitespace after it stays one word with the heredoc name that follows. */
  #processPossibleHeredoc(): string {
    this.#next();
    if (this.#peek() !== '<') return '<';
    this.#next();
    let result = '<<';
    if (this.#peek() === '-') result += this.#next();
    while (this.#peek() !== EOF && isSpace(this.#peek())) result += this.#next();
    return result;
  }

  #processSingleQuote(): string {
    // Everything up to the next ' is literal; a ' cannot be escaped inside.
    let result = '';
    const open = this.#next();
    if (this.options.rawQuotes === true) result += open;
    for (;;) {
      const ch = this.#next();
      if (ch === EOF)
        throw new LexError('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") {
        if (this.options.rawQuotes === true) result += ch;
        return result;
      }
      result += ch;
    }
  }

  #processDoubleQuote(): string {
    // Literal except `$`, and the escape character before `"`, `$` or itself.
    let result = '';
    const open = this.#next();
    if (this.options.rawQuotes === true) result += open;
    for (;;) {
      const peek = this.#peek();
      if (peek === EOF)
        throw new LexError('unexpected end of statement while looking for matching double-quote');
      if (peek === '"') {
        const close = this.#next();
        if (this.options.rawQuotes === true) result += close;
        return result;
      }
      if (peek === '$') {
        result += this.#processDollar();
        continue;
      }
      let ch = this.#next();
      if (ch === this.#escape) {
        if (this.#rawEscapes) result += ch;
        const after = this.#peek();
        if (after === EOF) continue;
        if (after === '"' || after === '$' || after === this.#escape) ch = this.#next();
      }
      result += ch;
    }
  }

  #getEnv(name: string): string | undefined {
    const value = this.lookup(name);
    if (value === undefined) this.unmatched.add(name);
    else this.matched.add(name);
    return value;
  }

  #processDollar(): string {
    this.#next();
    if (this.#peek() !== '{') {
      const name = this.#processName();
      if (name === '') return '$';
      const value = this.#getEnv(name);
      if (value === undefined && this.options.skipUnsetEnv === true) return `$${name}`;
      return value ?? '';
    }
    this.#next();
    if (this.#depth === MAX_EXPANSION_DEPTH) {
      throw new LimitError(`\${…} expressions nested more than ${MAX_EXPANSION_DEPTH} deep`);
    }
    this.#depth++;
    try {
      return this.#processBraced();
    } finally {
      this.#depth--;
    }
  }

  /** After `${`. */
  #processBraced(): string {
    const first = this.#peek();
    if (first === EOF) throw new LexError("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new LexError('syntax error: bad substitution');
    const name = this.#processName();
    let ch = this.#next();
    let chs = ch === EOF ? '\uFFFD' : ch;
    if (ch === '}') {
      const value = this.#getEnv(name);
      if (value === undefined && this.options.skipUnsetEnv === true) return `\${${name}}`;
      return value ?? '';
    }
    if (ch === '/') return this.#processReplace(name);
    let nullIsUnset = false;
    if (ch === ':') {
      nullIsUnset = true;
      ch = this.#next();
      chs += ch === EOF ? '\uFFFD' : ch;
    } else if (!['+', '-', '?', '#', '%'].includes(ch)) {
      throw new LexError(`unsupported modifier (${chs}) in substitution`);
    }
    const word = this.#wordUntilBrace(ch === '#' || ch === '%');
    const value = this.#getEnv(name);
    if (value === undefined && this.options.skipUnsetEnv === true) return `\${${name}${chs}${word}}`;
    const empty = value === undefined || (nullIsUnset && value === '');
    switch (ch) {
      case '-':
        return empty ? word : (value ?? '');
      case '+':
        return empty ? '' : word;
      case '?':
        if (value === undefined) throw new LexError(`${name}: ${word || 'is not allowed to be unset'}`);
        if (nullIsUnset && value === '')
          throw new LexError(`${name}: ${word || 'is not allowed to be empty'}`);
        return value;
      case '#':
      case '%': {
        // One `#`/`%` removes the shortest match, two the longest.
        const greedy = word.startsWith(ch);
        const pattern = greedy ? word.slice(1) : word;
        return this.#pattern(pattern, () =>
          ch === '%' ? trimSuffix(pattern, value ?? '', greedy) : trimPrefix(pattern, value ?? '', greedy),
        );
      }
      default:
        throw new LexError(`unsupported modifier (${chs}) in substitution`);
    }
  }

  #wordUntilBrace(rawEscapes: boolean): string {
    try {
      return this.processStopOn('}', rawEscapes).result;
    } catch (err) {
      if (isSyntaxError(err) && this.#peek() === EOF) throw new LexError("syntax error: missing '}'");
      throw err;
    }
  }

  #processReplace(name: string): string {
    const all = this.#peek() === '/';
    if (all) this.#next();
    let pattern: string;
    try {
      pattern = this.processStopOn('/', true).result;
    } catch (err) {
      if (isSyntaxError(err) && this.#peek() === EOF) {
        throw new LexError("syntax error: missing '/' in ${}");
      }
      throw err;
    }
    const replacement = this.#wordUntilBrace(true);
    const value = this.#getEnv(name);
    if (value === undefined && this.options.skipUnsetEnv === true) {
      return `\${${name}/${pattern}/${replacement}}`;
    }
    return this.#pattern(pattern, () => replacePattern(value ?? '', pattern, replacement, all));
  }

  #pattern(pattern: string, apply: () => string): string {
    try {
      return apply();
    } catch (err) {
      if (err instanceof WharfError) {
        throw new LexError(`invalid pattern (${pattern}) in substitution: ${err.message}`);
      }
      throw err;
    }
  }

  /** A variable name: letters/digits/_; or a run of digits; or one special parameter. */
  #processName(): string {
    let name = '';
    while (this.#peek() !== EOF) {
      const ch = this.#peek();
      if (name === '' && DIGIT.test(ch)) {
        while (this.#peek() !== EOF && DIGIT.test(this.#peek())) name += this.#next();
        return name;
      }
      if (name === '' && SPECIAL_PARAMS.has(ch)) return this.#next();
      if (!LETTER.test(ch) && !DIGIT.test(ch) && ch !== '_') break;
      name += this.#next();
    }
    return name;
  }
}
