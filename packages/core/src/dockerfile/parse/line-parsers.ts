/**
 * Per-instruction argument parsing, as BuildKit's `line_parsers.go`: each instruction turns the rest
 * of its line (after the keyword and flags) into a list of argument nodes in its own way. Quotes and
 * escapes are kept raw here; they are removed later by the shell-word lexer.
 */
import type { EscapeToken } from './directives.js';
import { goQuote, isSpace, splitOnce } from './go-text.js';
import { parseJsonArray } from './json-form.js';
import { argList, JSON_ATTRIBUTES, makeNode, NO_ATTRIBUTES, type Node, type NodeAttributes } from './node.js';
import { parseFailure } from './parse-error.js';
import { splitCommand } from './split-command.js';

interface LineParserResult {
  readonly next: Node | undefined;
  readonly attributes: NodeAttributes;
}

type LineParser = (rest: string, escapeToken: EscapeToken) => LineParserResult;

const RE_WHITESPACE = /[\t\v\f\r ]+/;

function plain(next: Node | undefined): LineParserResult {
  return { next, attributes: NO_ATTRIBUTES };
}

/** Unknown instructions: kept, arguments dropped (dumps as `(foo "")`). */
const parseIgnore: LineParser = () => plain(makeNode({}));

/** ONBUILD: the rest is a whole instruction, held as the only child of the argument node. */
const parseSubCommand: LineParser = (rest, escapeToken) => {
  if (rest === '') return plain(undefined);
  return plain(makeNode({ children: [nodeFromLine(rest, escapeToken, [])] }));
};

/** The whole rest as one argument (MAINTAINER, USER, WORKDIR, STOPSIGNAL). */
const parseString: LineParser = (rest) => plain(rest === '' ? undefined : makeNode({ value: rest }));

/** Split on runs of space/tab/VT/FF/CR; quotes are not honoured (FROM, EXPOSE). */
const parseStringsWhitespaceDelimited: LineParser = (rest) =>
  plain(rest === '' ? undefined : argList(rest.split(RE_WHITESPACE)));

/** JSON array of strings, or else the whole rest as one argument (RUN, CMD, ENTRYPOINT, SHELL). */
const parseMaybeJson: LineParser = (rest) => {
  if (rest === '') return plain(undefined);
  const values = parseJsonArray(rest);
  if (values !== undefined) return { next: argList(values), attributes: JSON_ATTRIBUTES };
  return plain(makeNode({ value: rest }));
};

/** JSON array of strings, or else whitespace-separated words (ADD, COPY, VOLUME). */
const parseMaybeJsonToList: LineParser = (rest, escapeToken) => {
  const values = parseJsonArray(rest);
  if (values !== undefined) return { next: argList(values), attributes: JSON_ATTRIBUTES };
  return parseStringsWhitespaceDelimited(rest, escapeToken);
};

/** HEALTHCHECK: the first word (CMD, NONE…), then the rest parsed like CMD. */
const parseHealthConfig: LineParser = (rest, escapeToken) => {
  const chars = Array.from(rest);
  let sep = 0;
  while (sep < chars.length && !isSpace(chars[sep] as string)) sep++;
  let next = sep;
  while (next < chars.length && isSpace(chars[next] as string)) next++;
  if (sep === 0) return plain(undefined);
  const cmd = parseMaybeJson(chars.slice(next).join(''), escapeToken);
  return {
    next: makeNode({ value: chars.slice(0, sep).join(''), next: cmd.next }),
    attributes: cmd.attributes,
  };
};

/** ARG: words split on unquoted whitespace, each word one argument (`k=v` is not split). */
const parseNameOrNameVal: LineParser = (rest, escapeToken) => plain(argList(parseWords(rest, escapeToken)));

/** ENV and LABEL: `key value` (legacy) or `k=v ...`, as key/value/separator triples. */
function parseNameVal(keyword: 'ENV' | 'LABEL'): LineParser {
  return (rest, escapeToken) => {
    const words = parseWords(rest, escapeToken);
    const first = words[0];
    if (first === undefined) return plain(undefined);
    if (!first.includes('=')) {
      const parts = splitOnce(RE_WHITESPACE, rest);
      if (parts[1] === undefined) {
        throw parseFailure(`${keyword} must have two arguments`, `write ${keyword} ${first}=<value>`);
      }
      return plain(argList([parts[0], parts[1], '']));
    }
    const values: string[] = [];
    for (const word of words) {
      const eq = word.indexOf('=');
      if (eq < 0) {
        throw parseFailure(
          `Syntax error - can't find = in ${goQuote(word)}. Must be of the form: name=value`,
          'write every pair as name=value',
        );
      }
      values.push(word.slice(0, eq), word.slice(eq + 1), '=');
    }
    return plain(argList(values));
  };
}

/**
 * Words separated by unquoted whitespace, with quotes and escape characters kept raw (BuildKit's
 * `parseWords`). An escape character at the very end of the text is dropped.
 */
export function parseWords(rest: string, escapeToken: EscapeToken): string[] {
  const chars = Array.from(rest);
  const words: string[] = [];
  let inWord = false;
  let quote = '';
  let word = '';
  let blankOK = false;
  for (let i = 0; i < chars.length; i++) {
    let ch = chars[i] as string;
    const last = i + 1 === chars.length;
    if (!inWord && quote === '') {
      if (isSpace(ch)) continue;
      inWord = true;
    }
    if (quote === '') {
      if (isSpace(ch)) {
        if (blankOK || word.length > 0) words.push(word);
        inWord = false;
        word = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
      } else if (ch === escapeToken) {
        if (last) continue;
        word += ch;
        ch = chars[++i] as string;
      }
      word += ch;
      continue;
    }
    // Inside quotes: the escape character works, except inside single quotes.
    if (ch === quote) {
      quote = '';
    } else if (ch === escapeToken && quote !== "'") {
      if (last) {
        quote = '';
        continue;
      }
      word += ch;
      ch = chars[++i] as string;
    }
    word += ch;
  }
  if ((inWord || quote !== '') && (blankOK || word.length > 0)) words.push(word);
  return words;
}

/** The dispatch table: keyword (lower case) → line parser. Unknown keywords use `parseIgnore`. */
const DISPATCH: Readonly<Record<string, LineParser>> = {
  add: parseMaybeJsonToList,
  arg: parseNameOrNameVal,
  cmd: parseMaybeJson,
  copy: parseMaybeJsonToList,
  entrypoint: parseMaybeJson,
  env: parseNameVal('ENV'),
  expose: parseStringsWhitespaceDelimited,
  from: parseStringsWhitespaceDelimited,
  healthcheck: parseHealthConfig,
  label: parseNameVal('LABEL'),
  maintainer: parseString,
  onbuild: parseSubCommand,
  run: parseMaybeJson,
  shell: parseMaybeJson,
  stopsignal: parseString,
  user: parseString,
  volume: parseMaybeJsonToList,
  workdir: parseString,
};

/** One logical line → an instruction node (lines and heredocs are filled in by the caller). */
export function nodeFromLine(line: string, escapeToken: EscapeToken, comments: readonly string[]): Node {
  const { cmd, flags, args } = splitCommand(line);
  const parser = Object.hasOwn(DISPATCH, cmd.toLowerCase()) ? DISPATCH[cmd.toLowerCase()] : undefined;
  const { next, attributes } = (parser ?? parseIgnore)(args, escapeToken);
  return makeNode({ value: cmd, original: line, flags, next, attributes, prevComment: [...comments] });
}
