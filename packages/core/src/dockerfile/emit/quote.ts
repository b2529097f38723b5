/**
 * Quoting IR Words (and other strings) so that BuildKit's Dockerfile front end reads back exactly what the IR
 * means. Each position goes through a different stack of BuildKit layers, so there is one encoder per stack:
 *
 * | encoder          | positions                                          | BuildKit layers the text goes through      |
 * | ---------------- | -------------------------------------------------- | ------------------------------------------ |
 * | `shellWord`      | ENV/LABEL keys+values, ARG defaults, WORKDIR, USER, | parser word split (quote aware, or on      |
 * |                  | STOPSIGNAL, EXPOSE, FROM, plain COPY/ADD/VOLUME     | whitespace), then `shell.Lex.ProcessWord`  |
 * | `jsonElement`    | JSON-form COPY/ADD/VOLUME elements                 | Go JSON decode, then `ProcessWord`         |
 * | `flagWord`       | `--chown=` `--from=` `--platform=` …               | `extractBuilderFlags` (quotes + `\`), then |
 * |                  |                                                    | `ProcessWord`                              |
 * | `mountFlag`      | `--mount=` options                                 | `extractBuilderFlags`, Go `encoding/csv`,  |
 * |                  |                                                    | then `ProcessWord` on each value           |
 * | `jsonArray`      | exec form (CMD, ENTRYPOINT, RUN, SHELL, HEALTHCHECK)| Go JSON decode only (argv is literal)      |
 *
 * References (moby/buildkit): `frontend/dockerfile/shell/lex.go` (`processStopOn`, `processDoubleQuote`:
 * inside double quotes `\` escapes only `"`, `$` and `\`), `parser/line_parsers.go` (`parseWords`,
 * `parseNameVal`, `parseMaybeJSONToList`), `parser/split_command.go` (`extractBuilderFlags`: iterates bytes,
 * so non-ASCII flag values are mangled), `instructions/commands_runmount.go` (`parseMount`: csv then expand).
 */

import { parseWord } from '../../ir/expand.js';

/** Thrown by encoders; `emitDockerfile` turns it into a `WharfError` naming the stage and instruction. */
export class Unrepresentable extends Error {
  override readonly name = 'Unrepresentable';
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

/** Go's `unicode.IsSpace`, which BuildKit's word splitting and trimming use. */
const GO_SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/u;
/** How values appear in error messages: JSON-quoted, so control characters are visible. */
export const show = (text: string): string => JSON.stringify(text);

export const hasSpace = (text: string): boolean => GO_SPACE.test(text);
export const LEADING_OR_TRAILING_SPACE = new RegExp(`^${GO_SPACE.source}|${GO_SPACE.source}$`, 'u');

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Characters no Dockerfile line can carry (the parser splits lines at LF and strips a CR before it). */
export function assertOneLine(text: string, what: string): void {
  if (text.includes('\n')) {
    throw new Unrepresentable(`${what} contains a newline`, 'a newline cannot be written in this position');
  }
  if (text.includes('\r')) {
    throw new Unrepresentable(`${what} contains a carriage return`, 'remove the CR character');
  }
  assertText(text, what);
}

/** Text that cannot be written as UTF-8 or passed to a process. */
export function assertText(text: string, what: string): void {
  if (text.includes('\0')) {
    throw new Unrepresentable(`${what} contains a NUL character`, 'remove the NUL character');
  }
  if (LONE_SURROGATE.test(text)) {
    throw new Unrepresentable(`${what} contains a lone UTF-16 surrogate`, 'use well-formed Unicode text');
  }
}

// ---------------------------------------------------------------------------------------------------------
// Words: literal text plus `$NAME` / `${…}` expansions; `\$` is a literal dollar, `\\` before a `$` a
// literal backslash (see ir/types.ts).

/** Expansions are copied verbatim; they must not contain characters that the outer layers re-interpret. */
function checkExpansion(text: string, what: string): void {
  if (/["'\\\n\r]/.test(text)) {
    throw new Unrepresentable(
      `${what} has an expansion ${show(text)} containing a quote, backslash or newline`,
      'keep expansions to a name, or a name with a plain default word',
    );
  }
  assertText(text, what);
}

const NEEDS_QUOTES = /["'\\]/;

/**
 * A Word as a shell-lexer word: bare when that is safe, else in double quotes with `"`, `\` and literal `$`
 * escaped (inside double quotes BuildKit's lexer un-escapes exactly those three).
 */
export function shellWord(word: string, what: string, options: { allowSpace: boolean }): string {
  const parts = parseWord(word);
  let spaced = false;
  let quote = word === '';
  for (const part of parts) {
    if (part.kind === 'expansion') checkExpansion(part.text, what);
    else {
      assertOneLine(part.text, what);
      if (NEEDS_QUOTES.test(part.text)) quote = true;
    }
    if (hasSpace(part.text)) spaced = true;
  }
  if (spaced && !options.allowSpace) {
    throw new Unrepresentable(`${what} contains whitespace`, 'BuildKit splits this position at whitespace');
  }
  if (spaced) quote = true;
  const body = parts
    .map((part) =>
      part.kind === 'expansion'
        ? part.text
        : quote
          ? part.text.replace(/["\\$]/g, (c) => `\\${c}`)
          : part.text.replaceAll('$', '\\$'),
    )
    .join('');
  return quote ? `"${body}"` : body;
}

/**
 * A Word for a single-word lexer pass where whitespace does not split (JSON elements, flag and mount values):
 * backslash escapes only, no quotes.
 */
export function lexerEscaped(word: string, what: string): string {
  return parseWord(word)
    .map((part) => {
      if (part.kind === 'expansion') {
        checkExpansion(part.text, what);
        return part.text;
      }
      assertOneLine(part.text, what);
      return part.text.replace(/["'\\$]/g, (c) => `\\${c}`);
    })
    .join('');
}

/** One element of a JSON-form COPY/ADD/VOLUME: JSON string of the lexer-escaped Word. */
export const jsonElement = (word: string, what: string): string => JSON.stringify(lexerEscaped(word, what));

/** Exec form: a JSON array of literal strings (BuildKit decodes it with Go's encoding/json). */
export function jsonArray(argv: readonly string[], what: string): string {
  for (const arg of argv) assertText(arg, what);
  return `[${argv.map((arg) => JSON.stringify(arg)).join(', ')}]`;
}

// ---------------------------------------------------------------------------------------------------------
// Flags: `--name=value` words are cut out of the line by extractBuilderFlags, which removes quotes and
// applies `\` (also inside single quotes) before the flag's own parsing sees the value.

function protectFlagValue(value: string, what: string): string {
  // extractBuilderFlags walks bytes and turns each byte into a rune: multi-byte UTF-8 would be mangled.
  if (/[^\x20-\x7e]/.test(value.replace(/\t/g, ' '))) {
    throw new Unrepresentable(
      `${what} contains non-ASCII or control characters`,
      'BuildKit reads builder flags byte by byte; use ASCII in flag values',
    );
  }
  if (!/[\s"'\\]/.test(value)) return value;
  if (!value.includes("'")) return `'${value.replaceAll('\\', '\\\\')}'`;
  return `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/** `--name=<Word>` for flags whose value BuildKit expands (`--chown`, `--chmod`, `--from`, `--platform`…). */
export function flagWord(name: string, word: string, what: string): string {
  if (word === '') throw new Unrepresentable(`${what} is empty`, `omit --${name} instead`);
  return `--${name}=${protectFlagValue(lexerEscaped(word, what), what)}`;
}

/** `--name=<literal>` for flags whose value BuildKit does not expand (durations, names). */
export function flagLiteral(name: string, value: string, what: string): string {
  if (value === '' || /[\s"'\\$]/.test(value)) {
    throw new Unrepresentable(
      `${what} ${show(value)} is empty or has whitespace, quotes, \`\\\` or \`$\``,
      'use a plain value',
    );
  }
  return `--${name}=${protectFlagValue(value, what)}`;
}

/** A mount option value: a Word (expanded by BuildKit after CSV parsing) or a fixed literal. */
export type MountValue = { readonly word: string } | { readonly literal: string } | { readonly bare: true };

/**
 * `--mount=type=…,key=value,…`. Fields are CSV (Go encoding/csv): a field holding `,`, `"` or `=` in its value,
 * or leading whitespace, is written as `"key=value"` with `"` doubled.
 */
export function mountFlag(fields: ReadonlyArray<readonly [string, MountValue]>, what: string): string {
  const csv = fields
    .map(([key, value]) => {
      if ('bare' in value) return key;
      const text = 'word' in value ? lexerEscaped(value.word, `${what} ${key}`) : value.literal;
      if ('literal' in value) assertOneLine(text, `${what} ${key}`);
      const field = `${key}=${text}`;
      return /[,"=\r\n]/.test(text) || /^\s/.test(text) ? `"${field.replaceAll('"', '""')}"` : field;
    })
    .join(',');
  return `--mount=${protectFlagValue(csv, what)}`;
}
