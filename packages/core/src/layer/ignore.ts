/**
 * `.dockerignore` reading and matching, with the semantics of Docker and BuildKit:
 * `moby/patternmatcher` v0.6.1 (`New`, `MatchesOrParentMatches`, `MatchesUsingParentResults`),
 * its `ignorefile.ReadAll`, and the directory-skipping rule of `tonistiigi/fsutil`'s filtered walk.
 * The same matcher serves `COPY --exclude` patterns (BuildKit uses one matcher for both).
 *
 * Upstream turns each pattern into a Go regular expression. To get the same answers for unusual
 * patterns (`[[:alpha:]]`, `\d`, `a\Qb`, reversed ranges …) this module first builds that exact Go
 * regex text, then translates Go's RE2 syntax to an equivalent JavaScript `u` regex, rejecting
 * what Go would reject. That regex is matched by linear-regex.ts, in linear time like RE2 (JavaScript's
 * backtracking took seconds on `*a*a*a*a*b` and a 200-character name).
 */
import { WharfError } from '../errors.js';
import { LinearRegex } from './linear-regex.js';

export type IgnoreErrorCode = 'IGNORE_BAD_PATTERN' | 'IGNORE_ILLEGAL_EXCLUSION' | 'IGNORE_LINE_TOO_LONG';

/** One pattern as the matcher holds it: cleaned, with a leading `!` turned into `exclusion`. */
export interface IgnorePattern {
  /** The cleaned pattern text without its `!` (what Go's `Pattern.String()` returns). */
  readonly pattern: string;
  /** `true` for a `!` exception: a match re-includes the path. */
  readonly exclusion: boolean;
}

/** Per-pattern results for a directory, handed to its children (fsutil's `MatchInfo`). Opaque. */
export interface ParentMatchInfo {
  readonly parentMatched: readonly boolean[];
}

export interface IgnoreMatcher {
  readonly patterns: readonly IgnorePattern[];
  /** Whether any `!` exception pattern exists. */
  readonly hasExclusions: boolean;
  /**
   * Docker's `.dockerignore` answer for a slash-separated path relative to the context root:
   * the last matching pattern wins, and a pattern also matches when it matches any parent
   * directory. The path is cleaned first; `.` (the root) is never excluded.
   * Throws `IGNORE_BAD_PATTERN` when a pattern that has to be evaluated is malformed.
   */
  matches(relPath: string): boolean;
  /**
   * The same decision as BuildKit's context walk makes it (`MatchesUsingParentResults`): pass the
   * `info` returned for the parent directory, or nothing for a top-level entry. Agrees with
   * `matches` except in rare pattern orders where upstream's shortcut differs (see README).
   */
  matchWithParent(relPath: string, parent?: ParentMatchInfo): { excluded: boolean; info: ParentMatchInfo };
  /**
   * For an excluded directory: `true` when an exception pattern might re-include something inside
   * it, so a walker must descend; `false` when the whole subtree can be skipped unread.
   * This is fsutil's rule: any exception with a wildcard (after dropping a trailing slash-star or
   * slash-double-star) forces descent everywhere; otherwise only directories on the path of an
   * exception are entered.
   */
  mayReinclude(dirRelPath: string): boolean;
}

export interface IgnoreMatcherOptions {
  /** Where the patterns came from, for error messages (e.g. `.dockerignore`, `COPY --exclude`). */
  readonly origin?: string;
}

// ---------------------------------------------------------------------------------------------
// Reading a .dockerignore file (ignorefile.ReadAll)

/** bufio.Scanner's default limit: a longer line makes Docker fail to read the file. */
const MAX_LINE_BYTES = 64 * 1024;

/**
 * The pattern list of a `.dockerignore` text, as `ignorefile.ReadAll` produces it: a UTF-8 BOM is
 * dropped, lines are split on `\n` (a trailing `\r` is dropped), lines whose first character is `#`
 * are comments, surrounding whitespace is trimmed, blank lines are skipped, and each pattern is
 * `filepath.Clean`ed with one leading `/` removed (`!` is kept in front). A bare `!` survives
 * here; `createIgnoreMatcher` rejects it.
 */
export function parseDockerignore(text: string): string[] {
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const lines = body.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const patterns: string[] = [];
  lines.forEach((raw, index) => {
    if (Buffer.byteLength(raw, 'utf8') >= MAX_LINE_BYTES) {
      throw new WharfError<IgnoreErrorCode>(
        'IGNORE_LINE_TOO_LONG',
        `.dockerignore line ${index + 1} is longer than ${MAX_LINE_BYTES - 1} bytes`,
        { hint: 'Docker cannot read such a line either (bufio.Scanner: token too long); shorten it' },
      );
    }
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.startsWith('#')) return;
    let pattern = goTrimSpace(line);
    if (pattern === '') return;
    const invert = pattern.startsWith('!');
    if (invert) pattern = goTrimSpace(pattern.slice(1));
    if (pattern.length > 0) {
      pattern = goClean(pattern);
      if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
    }
    patterns.push(invert ? `!${pattern}` : pattern);
  });
  return patterns;
}

// ---------------------------------------------------------------------------------------------
// The matcher (patternmatcher.New and friends)

/**
 * Builds a matcher from pattern lines (already read with `parseDockerignore`, or `COPY --exclude`
 * values). Like `patternmatcher.New`: each pattern is trimmed, empty ones dropped, `filepath.Clean`
 * applied, a leading `!` marks an exception, and glob syntax is checked up front
 * (`IGNORE_BAD_PATTERN`; a bare `!` is `IGNORE_ILLEGAL_EXCLUSION`). A few malformed patterns pass
 * that check and fail only when first evaluated, exactly as upstream.
 */
export function createIgnoreMatcher(
  patterns: readonly string[],
  options: IgnoreMatcherOptions = {},
): IgnoreMatcher {
  const origin = options.origin ?? 'ignore pattern';
  const compiled: CompiledPattern[] = [];
  for (const raw of patterns) {
    let p = goTrimSpace(raw);
    if (p === '') continue;
    p = goClean(p);
    let exclusion = false;
    if (p.startsWith('!')) {
      if (p.length === 1) {
        throw new WharfError<IgnoreErrorCode>(
          'IGNORE_ILLEGAL_EXCLUSION',
          `${origin}: illegal exclusion pattern: "!"`,
          {
            hint: 'a "!" line needs a pattern after it, e.g. "!docs/README.md"; delete the bare "!"',
          },
        );
      }
      exclusion = true;
      p = p.slice(1);
    }
    if (!isValidGlob(p)) {
      throw badPattern(origin, raw);
    }
    compiled.push(new CompiledPattern(p, exclusion, origin, raw));
  }
  return new PatternMatcher(compiled);
}

function badPattern(origin: string, raw: string, cause?: unknown): WharfError<IgnoreErrorCode> {
  return new WharfError<IgnoreErrorCode>(
    'IGNORE_BAD_PATTERN',
    `${origin}: syntax error in pattern ${JSON.stringify(raw)}`,
    {
      hint: 'check "[...]" classes (closed, ranges low-high, no bare "-" or "]" first) and escape a trailing "\\"',
      cause,
    },
  );
}

type MatchType = 'exact' | 'prefix' | 'suffix' | 'regexp';

class CompiledPattern implements IgnorePattern {
  readonly pattern: string;
  readonly exclusion: boolean;
  private readonly origin: string;
  private readonly raw: string;
  private type: MatchType | undefined;
  private regexp: LinearRegex | undefined;

  constructor(pattern: string, exclusion: boolean, origin: string, raw: string) {
    this.pattern = pattern;
    this.exclusion = exclusion;
    this.origin = origin;
    this.raw = raw;
  }

  /** Pattern.match: compiled lazily; a compile failure is reported on every call. */
  match(path: string): boolean {
    if (this.type === undefined) {
      const { type, source } = compileToGoRegex(this.pattern);
      if (type === 'regexp') {
        try {
          this.regexp = new LinearRegex(goRegexToJs(source));
        } catch (cause) {
          throw badPattern(this.origin, this.raw, cause);
        }
      }
      this.type = type;
    }
    switch (this.type) {
      case 'exact':
        return path === this.pattern;
      case 'prefix':
        return path.startsWith(this.pattern.slice(0, -2));
      case 'suffix': {
        const suffix = this.pattern.slice(2);
        if (path.endsWith(suffix)) return true;
        // **/foo matches "foo"
        return suffix.startsWith('/') && path === suffix.slice(1);
      }
      case 'regexp':
        return (this.regexp as LinearRegex).test(path);
    }
  }
}

const PATTERN_CHARS = '*[]?^\\';

class PatternMatcher implements IgnoreMatcher {
  readonly patterns: readonly CompiledPattern[];
  readonly hasExclusions: boolean;
  private readonly onlyPrefixExceptions: boolean;

  constructor(patterns: CompiledPattern[]) {
    this.patterns = patterns;
    this.hasExclusions = patterns.some((p) => p.exclusion);
    this.onlyPrefixExceptions = !patterns.some(
      (p) => p.exclusion && [...withoutTrailingGlob(p.pattern)].some((c) => PATTERN_CHARS.includes(c)),
    );
  }

  matches(relPath: string): boolean {
    const file = goClean(relPath);
    if (file === '.') return false; // upstream: "Don't let them exclude everything"
    const parentDirs = parentPrefixes(file);
    let matched = false;
    for (const pattern of this.patterns) {
      // An inclusion cannot change an already-excluded path, nor an exception a kept one.
      if (pattern.exclusion !== matched) continue;
      let match = pattern.match(file);
      if (!match) {
        for (const dir of parentDirs) {
          if (pattern.match(dir)) {
            match = true;
            break;
          }
        }
      }
      if (match) matched = !pattern.exclusion;
    }
    return matched;
  }

  matchWithParent(relPath: string, parent?: ParentMatchInfo): { excluded: boolean; info: ParentMatchInfo } {
    const parentMatched = parent?.parentMatched ?? [];
    if (parentMatched.length !== 0 && parentMatched.length !== this.patterns.length) {
      throw new Error('matchWithParent: parent info comes from a different matcher');
    }
    const result: boolean[] = new Array<boolean>(this.patterns.length).fill(false);
    let matched = false;
    this.patterns.forEach((pattern, i) => {
      let match = parentMatched[i] ?? false;
      if (!match) {
        if (pattern.exclusion !== matched) return;
        match = pattern.match(relPath);
        if (!match && parentMatched.length === 0) {
          for (const dir of parentPrefixes(relPath)) {
            if (pattern.match(dir)) {
              match = true;
              break;
            }
          }
        }
      }
      result[i] = match;
      if (match) matched = !pattern.exclusion;
    });
    return { excluded: matched, info: { parentMatched: result } };
  }

  mayReinclude(dirRelPath: string): boolean {
    if (!this.hasExclusions) return false;
    if (!this.onlyPrefixExceptions) return true;
    const dirSlash = `${dirRelPath}/`;
    return this.patterns.some(
      (p) => p.exclusion && `${withoutTrailingGlob(p.pattern)}/`.startsWith(dirSlash),
    );
  }
}

function withoutTrailingGlob(pattern: string): string {
  let p = pattern;
  if (p.endsWith('/**')) p = p.slice(0, -3);
  if (p.endsWith('/*')) p = p.slice(0, -2);
  return p;
}

/** `a`, `a/b` for `a/b/c` (Go: split of filepath.Dir); empty when the parent is `.`. */
function parentPrefixes(file: string): string[] {
  const parent = goDir(file);
  if (parent === '.') return [];
  const parts = parent.split('/');
  return parts.map((_, i) => parts.slice(0, i + 1).join('/'));
}

// ---------------------------------------------------------------------------------------------
// Go standard library pieces: strings.TrimSpace, filepath.Clean, filepath.Dir, filepath.Match

const GO_SPACE = new Set([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005,
  0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
]);

/** Go's strings.TrimSpace (unicode.IsSpace; unlike String.prototype.trim it keeps U+FEFF, trims U+0085). */
export function goTrimSpace(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && GO_SPACE.has(s.charCodeAt(start))) start++;
  while (end > start && GO_SPACE.has(s.charCodeAt(end - 1))) end--;
  return s.slice(start, end);
}

/** Go's path/filepath.Clean on a slash-separated path (Unix). */
export function goClean(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = out.join('/');
  if (rooted) return `/${joined}`;
  return joined === '' ? '.' : joined;
}

function goDir(p: string): string {
  return goClean(p.slice(0, p.lastIndexOf('/') + 1));
}

/**
 * Whether filepath.Match(pattern, ".") would report ErrBadPattern. Since Go 1.16 Match checks the
 * whole pattern whatever the name, so this only needs the syntax walk of scanChunk/matchChunk.
 */
function isValidGlob(pattern: string): boolean {
  let rest = pattern;
  while (rest.length > 0) {
    // scanChunk: skip stars, then take up to the next star outside [...]
    while (rest.startsWith('*')) rest = rest.slice(1);
    let inRange = false;
    let i = 0;
    scan: for (; i < rest.length; i++) {
      switch (rest[i]) {
        case '\\':
          if (i + 1 < rest.length) i++;
          break;
        case '[':
          inRange = true;
          break;
        case ']':
          inRange = false;
          break;
        case '*':
          if (!inRange) break scan;
          break;
      }
    }
    if (!isValidChunk(rest.slice(0, i))) return false;
    rest = rest.slice(i);
  }
  return true;
}

function isValidChunk(input: string): boolean {
  let chunk = input;
  // getEsc: one class character, possibly escaped; the class must go on after it.
  const getEsc = (): boolean => {
    if (chunk === '' || chunk[0] === '-' || chunk[0] === ']') return false;
    if (chunk[0] === '\\') {
      chunk = chunk.slice(1);
      if (chunk === '') return false;
    }
    const cp = chunk.codePointAt(0) as number;
    chunk = chunk.slice(cp > 0xffff ? 2 : 1);
    return chunk !== '';
  };
  while (chunk.length > 0) {
    const c = chunk[0];
    if (c === '[') {
      chunk = chunk.slice(1);
      if (chunk.startsWith('^')) chunk = chunk.slice(1);
      let nrange = 0;
      for (;;) {
        if (chunk.startsWith(']') && nrange > 0) {
          chunk = chunk.slice(1);
          break;
        }
        if (!getEsc()) return false;
        if (chunk[0] === '-') {
          chunk = chunk.slice(1);
          if (!getEsc()) return false;
        }
        nrange++;
      }
    } else if (c === '\\') {
      chunk = chunk.slice(1);
      if (chunk === '') return false;
      chunk = chunk.slice(1);
    } else {
      chunk = chunk.slice(1);
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Pattern → Go regex text (Pattern.compile, Unix separator)

const REGEX_ESCAPED = new Set(['.', '+', '(', ')', '|', '{', '}', '$']);

/** Exported for tests: the match type and Go regex text upstream builds for a cleaned pattern. */
export function compileToGoRegex(pattern: string): { type: MatchType; source: string } {
  const chars = [...pattern];
  // text/scanner drops a leading byte order mark.
  let pos = chars[0] === '\uFEFF' ? 1 : 0;
  const peek = (): string | undefined => chars[pos];
  let re = '^';
  let type: MatchType = 'exact';
  for (let i = 0; pos < chars.length; i++) {
    const ch = chars[pos++] as string;
    if (ch === '*') {
      if (peek() === '*') {
        pos++;
        if (peek() === '/') pos++; // treat **/ as **
        if (peek() === undefined) {
          // "**" at the end: accept everything, as .gitignore does
          if (type === 'exact') type = 'prefix';
          else {
            re += '.*';
            type = 'regexp';
          }
        } else {
          re += '(.*/)?';
          type = 'regexp';
        }
        if (i === 0) type = 'suffix';
      } else {
        re += '[^/]*';
        type = 'regexp';
      }
    } else if (ch === '?') {
      re += '[^/]';
      type = 'regexp';
    } else if (REGEX_ESCAPED.has(ch)) {
      re += `\\${ch}`;
    } else if (ch === '\\') {
      const next = peek();
      if (next !== undefined) {
        pos++;
        re += `\\${next}`;
        type = 'regexp';
      } else {
        re += '\\';
      }
    } else if (ch === '[' || ch === ']') {
      re += ch;
      type = 'regexp';
    } else {
      re += ch;
    }
  }
  if (type === 'regexp') re += '$';
  return { type, source: re };
}

// ---------------------------------------------------------------------------------------------
// Go RE2 syntax (Perl flags: ClassNL | OneLine | PerlX | UnicodeGroups) → JavaScript `u` regex

class GoRegexError extends Error {}

type Range = readonly [number, number];

const PERL_GROUPS: Record<string, { negate: boolean; ranges: Range[] }> = {
  d: { negate: false, ranges: [[0x30, 0x39]] },
  s: {
    negate: false,
    ranges: [
      [0x09, 0x0a],
      [0x0c, 0x0d],
      [0x20, 0x20],
    ],
  },
  w: {
    negate: false,
    ranges: [
      [0x30, 0x39],
      [0x41, 0x5a],
      [0x5f, 0x5f],
      [0x61, 0x7a],
    ],
  },
};

const POSIX_GROUPS: Record<string, Range[]> = {
  alnum: [
    [0x30, 0x39],
    [0x41, 0x5a],
    [0x61, 0x7a],
  ],
  alpha: [
    [0x41, 0x5a],
    [0x61, 0x7a],
  ],
  ascii: [[0x00, 0x7f]],
  blank: [
    [0x09, 0x09],
    [0x20, 0x20],
  ],
  cntrl: [
    [0x00, 0x1f],
    [0x7f, 0x7f],
  ],
  digit: [[0x30, 0x39]],
  graph: [[0x21, 0x7e]],
  lower: [[0x61, 0x7a]],
  print: [[0x20, 0x7e]],
  punct: [
    [0x21, 0x2f],
    [0x3a, 0x40],
    [0x5b, 0x60],
    [0x7b, 0x7e],
  ],
  space: [
    [0x09, 0x0d],
    [0x20, 0x20],
  ],
  upper: [[0x41, 0x5a]],
  word: [
    [0x30, 0x39],
    [0x41, 0x5a],
    [0x5f, 0x5f],
    [0x61, 0x7a],
  ],
  xdigit: [
    [0x30, 0x39],
    [0x41, 0x46],
    [0x61, 0x66],
  ],
};

const GO_CATEGORIES = new Set(
  'C Cc Cf Co Cs L Ll Lm Lo Lt Lu M Mc Me Mn N Nd Nl No P Pc Pd Pe Pf Pi Po Ps S Sc Sk Sm So Z Zl Zp Zs'.split(
    ' ',
  ),
);

const MAX_RUNE = 0x10ffff;

function complement(ranges: readonly Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: Range[] = [];
  let next = 0;
  for (const [lo, hi] of sorted) {
    if (lo > next) out.push([next, lo - 1]);
    next = Math.max(next, hi + 1);
  }
  if (next <= MAX_RUNE) out.push([next, MAX_RUNE]);
  return out;
}

const cp = (n: number): string => `\\u{${n.toString(16)}}`;
const rangeItem = ([lo, hi]: Range): string => (lo === hi ? cp(lo) : `${cp(lo)}-${cp(hi)}`);
const classOf = (ranges: readonly Range[]): string => `[${ranges.map(rangeItem).join('')}]`;

/** Translates the subset of Go regex syntax that Pattern.compile can produce (and Go's errors). */
export function goRegexToJs(source: string): string {
  const s = [...source];
  let pos = 0;
  let out = '';
  let depth = 0;
  // What the last item was, for repetition rules: none (nothing to repeat), atom, or repeat.
  const state: { last: 'none' | 'atom' | 'repeat' | 'lazy' } = { last: 'none' };

  const atom = (js: string): void => {
    out += js;
    state.last = 'atom';
  };

  while (pos < s.length) {
    const c = s[pos++] as string;
    switch (c) {
      case '(':
        if (s[pos] === '?') throw new GoRegexError('group flags are not supported');
        out += '(?:';
        depth++;
        state.last = 'none';
        break;
      case ')':
        if (depth === 0) throw new GoRegexError('unexpected )');
        depth--;
        atom(')');
        break;
      case '|':
        out += '|';
        state.last = 'none';
        break;
      case '^':
        atom('(?:^)');
        break;
      case '$':
        atom('(?:$)');
        break;
      case '.':
        atom('[^\\n]');
        break;
      case '*':
      case '+':
      case '?':
        if (c === '?' && state.last === 'repeat') {
          out += '?';
          state.last = 'lazy';
          break;
        }
        if (state.last === 'none') throw new GoRegexError('missing argument to repetition operator');
        if (state.last !== 'atom') throw new GoRegexError('invalid nested repetition operator');
        out += c;
        state.last = 'repeat';
        break;
      case '[': {
        const parsed = parseClass(s, pos);
        pos = parsed.pos;
        atom(parsed.js);
        break;
      }
      case '\\': {
        const e = s[pos];
        if (e === undefined) throw new GoRegexError('trailing backslash at end of expression');
        if (e === 'A') {
          pos++;
          atom('(?:^)');
        } else if (e === 'z') {
          pos++;
          atom('(?:$)');
        } else if (e === 'b' || e === 'B') {
          pos++;
          atom(`(?:\\${e})`);
        } else if (e === 'C') {
          throw new GoRegexError('invalid escape sequence: \\C');
        } else if (e === 'Q') {
          pos++;
          let lit = '';
          while (pos < s.length && !(s[pos] === '\\' && s[pos + 1] === 'E')) lit += s[pos++];
          if (pos < s.length) pos += 2;
          for (const ch of lit) atom(cp(ch.codePointAt(0) as number));
        } else if (e === 'p' || e === 'P') {
          const parsed = parseUnicodeClass(s, pos - 1);
          pos = parsed.pos;
          atom(`[${parsed.item}]`);
        } else if (PERL_GROUPS[e.toLowerCase()] && 'dswDSW'.includes(e)) {
          pos++;
          const group = PERL_GROUPS[e.toLowerCase()] as { ranges: Range[] };
          atom(classOf(e === e.toLowerCase() ? group.ranges : complement(group.ranges)));
        } else {
          const parsed = parseEscape(s, pos - 1);
          pos = parsed.pos;
          atom(cp(parsed.rune));
        }
        break;
      }
      default:
        atom(cp(c.codePointAt(0) as number));
    }
  }
  if (depth !== 0) throw new GoRegexError('missing closing )');
  return out;
}

/** Go's parseEscape: `s[start]` is the backslash. Returns the rune and the position after it. */
function parseEscape(s: readonly string[], start: number): { rune: number; pos: number } {
  let pos = start + 1;
  const c = s[pos++];
  if (c === undefined) throw new GoRegexError('trailing backslash at end of expression');
  const code = c.codePointAt(0) as number;
  const isOctal = (ch: string | undefined): boolean => ch !== undefined && ch >= '0' && ch <= '7';
  if (code < 0x80 && !/[0-9A-Za-z]/.test(c)) return { rune: code, pos };
  if ((c >= '1' && c <= '7' && isOctal(s[pos])) || c === '0') {
    let r = code - 0x30;
    for (let i = 1; i < 3 && isOctal(s[pos]); i++) r = r * 8 + (s[pos++] as string).charCodeAt(0) - 0x30;
    return { rune: r, pos };
  }
  if (c === 'x') {
    const hex = (ch: string | undefined): number =>
      ch !== undefined && /^[0-9A-Fa-f]$/.test(ch) ? parseInt(ch, 16) : -1;
    if (s[pos] === '{') {
      pos++;
      let r = 0;
      let n = 0;
      for (;;) {
        const ch = s[pos++];
        if (ch === undefined) throw invalidEscape(s, start, pos);
        if (ch === '}') break;
        const v = hex(ch);
        if (v < 0) throw invalidEscape(s, start, pos);
        r = r * 16 + v;
        if (r > MAX_RUNE) throw invalidEscape(s, start, pos);
        n++;
      }
      if (n === 0) throw invalidEscape(s, start, pos);
      return { rune: r, pos };
    }
    const x = hex(s[pos]);
    const y = hex(s[pos + 1]);
    if (x < 0 || y < 0) throw invalidEscape(s, start, pos + 2);
    return { rune: x * 16 + y, pos: pos + 2 };
  }
  const simple: Record<string, number> = { a: 7, f: 12, n: 10, r: 13, t: 9, v: 11 };
  const r = simple[c];
  if (r !== undefined) return { rune: r, pos };
  throw invalidEscape(s, start, pos);
}

function invalidEscape(s: readonly string[], start: number, end: number): GoRegexError {
  return new GoRegexError(`invalid escape sequence: ${s.slice(start, end).join('')}`);
}

/** `\pL`, `\p{Greek}`, `\P{^Lu}`, starting at the backslash; returns one JS class item. */
function parseUnicodeClass(s: readonly string[], start: number): { item: string; pos: number } {
  let negate = s[start + 1] === 'P';
  let pos = start + 2;
  const c = s[pos++];
  if (c === undefined) throw new GoRegexError('invalid character class range');
  let name = c;
  if (c === '{') {
    const end = s.indexOf('}', pos);
    if (end < 0) throw new GoRegexError('invalid character class range');
    name = s.slice(pos, end).join('');
    pos = end + 1;
  }
  if (name.startsWith('^')) {
    negate = !negate;
    name = name.slice(1);
  }
  if (name === 'Any') return { item: negate ? '' : rangeItem([0, MAX_RUNE]), pos };
  let item: string;
  if (GO_CATEGORIES.has(name)) item = `\\${negate ? 'P' : 'p'}{General_Category=${name}}`;
  else if (/^[A-Z][A-Za-z_]*$/.test(name)) item = `\\${negate ? 'P' : 'p'}{Script=${name}}`;
  else throw new GoRegexError(`invalid character class range: \\p{${name}}`);
  try {
    new RegExp(`[${item}]`, 'u');
  } catch {
    throw new GoRegexError(`invalid character class range: \\p{${name}}`);
  }
  return { item, pos };
}

/** Go's parseClass; `pos` is just after `[`. */
function parseClass(s: readonly string[], start: number): { js: string; pos: number } {
  let pos = start;
  let negate = false;
  if (s[pos] === '^') {
    negate = true;
    pos++;
  }
  const items: string[] = [];
  let first = true;
  while (pos >= s.length || s[pos] !== ']' || first) {
    first = false;
    if (pos >= s.length) throw new GoRegexError('missing closing ]');
    // POSIX [:alpha:] / [:^alpha:]
    if (s[pos] === '[' && s[pos + 1] === ':' && pos + 2 < s.length) {
      const rest = s.slice(pos + 2).join('');
      const close = rest.indexOf(':]');
      if (close >= 0) {
        let name = rest.slice(0, close);
        const neg = name.startsWith('^');
        if (neg) name = name.slice(1);
        const group = POSIX_GROUPS[name];
        if (group === undefined)
          throw new GoRegexError(`invalid character class range: [:${rest.slice(0, close)}:]`);
        items.push(...(neg ? complement(group) : group).map(rangeItem));
        pos += 2 + [...rest.slice(0, close + 2)].length;
        continue;
      }
    }
    if (s[pos] === '\\' && (s[pos + 1] === 'p' || s[pos + 1] === 'P')) {
      const parsed = parseUnicodeClass(s, pos);
      if (parsed.item !== '') items.push(parsed.item);
      pos = parsed.pos;
      continue;
    }
    const perl = s[pos] === '\\' ? s[pos + 1] : undefined;
    if (perl !== undefined && 'dswDSW'.includes(perl)) {
      const group = PERL_GROUPS[perl.toLowerCase()] as { ranges: Range[] };
      items.push(...(perl === perl.toLowerCase() ? group.ranges : complement(group.ranges)).map(rangeItem));
      pos += 2;
      continue;
    }
    const lo = parseClassChar(s, pos);
    pos = lo.pos;
    let hi = lo;
    if (pos + 1 < s.length && s[pos] === '-' && s[pos + 1] !== ']') {
      hi = parseClassChar(s, pos + 1);
      pos = hi.pos;
      if (hi.rune < lo.rune) throw new GoRegexError('invalid character class range');
    }
    items.push(rangeItem([lo.rune, hi.rune]));
  }
  pos++; // the closing ]
  const body = items.join('');
  return { js: negate ? `[^${body}]` : `[${body}]`, pos };
}

function parseClassChar(s: readonly string[], pos: number): { rune: number; pos: number } {
  const c = s[pos];
  if (c === undefined) throw new GoRegexError('missing closing ]');
  if (c === '\\') return parseEscape(s, pos);
  return { rune: c.codePointAt(0) as number, pos: pos + 1 };
}
