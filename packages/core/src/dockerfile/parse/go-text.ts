/**
 * Small ports of the Go standard-library text functions whose exact behaviour the BuildKit parser
 * output depends on: `unicode.IsSpace`, `strings.TrimSpace`, `strconv.Quote` and `%q` of a `[]string`.
 * JavaScript's `\s`, `trim()` and `JSON.stringify` differ from them in small but visible ways.
 */

/** Go's `unicode.IsSpace` for one code point (JS `\s` also matches U+FEFF and misses U+0085). */
export function isSpace(ch: string): boolean {
  const c = ch.codePointAt(0);
  if (c === undefined) return false;
  if (c <= 0xff) return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0x85 || c === 0xa0;
  return (
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000
  );
}

/** Go's `strings.TrimLeftFunc(s, unicode.IsSpace)`. */
export function trimLeftSpace(s: string): string {
  let i = 0;
  for (const ch of s) {
    if (!isSpace(ch)) break;
    i += ch.length;
  }
  return s.slice(i);
}

/** Go's `strings.TrimRightFunc(s, unicode.IsSpace)`. */
export function trimRightSpace(s: string): string {
  let end = s.length;
  while (end > 0) {
    const last = s.charCodeAt(end - 1);
    // Every Go space is in the BMP, so one UTF-16 unit is one code point here.
    if (last >= 0xd800 && last <= 0xdfff) break;
    if (!isSpace(s[end - 1] as string)) break;
    end--;
  }
  return s.slice(0, end);
}

/** Go's `strings.TrimSpace`. */
export function trimSpace(s: string): string {
  return trimRightSpace(trimLeftSpace(s));
}

/** Splits `s` at the first match of `re` (Go's `re.Split(s, 2)`); the regexp must not be global. */
export function splitOnce(re: RegExp, s: string): [string] | [string, string] {
  const m = re.exec(s);
  if (!m) return [s];
  return [s.slice(0, m.index), s.slice(m.index + m[0].length)];
}

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

/**
 * Go's `strconv.Quote`: short escapes for `\a \b \f \n \r \t \v \\ \"`, `\xHH` for other control
 * characters and DEL, raw UTF-8 for printable characters, `\uXXXX`/`\UXXXXXXXX` for the rest.
 * A lone surrogate (which Go strings cannot hold) is treated as U+FFFD, as Go's decoders produce.
 */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    let c = ch.codePointAt(0) as number;
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    if (c === 0x22 || c === 0x5c) {
      out += `\\${String.fromCodePoint(c)}`;
    } else if (c === 0x20 || PRINTABLE.test(String.fromCodePoint(c))) {
      out += String.fromCodePoint(c);
    } else {
      out += escapeNonPrintable(c);
    }
  }
  return `${out}"`;
}

function escapeNonPrintable(c: number): string {
  switch (c) {
    case 0x07:
      return '\\a';
    case 0x08:
      return '\\b';
    case 0x0c:
      return '\\f';
    case 0x0a:
      return '\\n';
    case 0x0d:
      return '\\r';
    case 0x09:
      return '\\t';
    case 0x0b:
      return '\\v';
  }
  if (c < 0x20 || c === 0x7f) return `\\x${hex(c, 2)}`;
  if (c < 0x10000) return `\\u${hex(c, 4)}`;
  return `\\U${hex(c, 8)}`;
}

/** Go's `fmt.Sprintf("%q", []string{...})`: `["a" "b"]`. */
export function goQuoteList(items: readonly string[]): string {
  return `[${items.map(goQuote).join(' ')}]`;
}

/** Replaces lone UTF-16 surrogates with U+FFFD, as Go's UTF-8 decoders do with invalid input. */
export function toWellFormed(s: string): string {
  return s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8');

/** The UTF-8 bytes of `s`, one char per byte (U+0000–U+00FF): how Go code that indexes `line[i]` sees it. */
export function toByteString(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ASCII fast path
  if (/^[\x00-\x7f]*$/.test(s)) return s;
  let out = '';
  for (const b of encoder.encode(s)) out += String.fromCharCode(b);
  return out;
}

/** Inverse of {@link toByteString}: decodes a one-char-per-byte string as UTF-8. */
export function fromByteString(bytes: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ASCII fast path
  if (/^[\x00-\x7f]*$/.test(bytes)) return bytes;
  const buf = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) buf[i] = bytes.charCodeAt(i);
  return decoder.decode(buf);
}

/** Length of `s` in UTF-8 bytes. */
export function utf8Length(s: string): number {
  return encoder.encode(s).length;
}
