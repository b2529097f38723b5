import { fromByteString, isSpace, splitOnce, toByteString, trimSpace } from './go-text.js';

/** An instruction line split into keyword, builder flags and the rest (BuildKit's `splitCommand`). */
export interface SplitCommand {
  /** The keyword as written. */
  readonly cmd: string;
  readonly flags: string[];
  /** Everything after the flags, trimmed. */
  readonly args: string;
}

const RE_TOKEN_WHITESPACE = /[\t\v\f\r ]+/;

export function splitCommand(line: string): SplitCommand {
  const [cmd, rest] = splitOnce(RE_TOKEN_WHITESPACE, trimSpace(line));
  if (rest === undefined) return { cmd, flags: [], args: '' };
  const { args, flags } = extractBuilderFlags(rest);
  return { cmd, flags, args: trimSpace(args) };
}

enum Phase {
  Spaces,
  Word,
  Quote,
}

/**
 * Takes the leading `--flag[=value]` words off `line`. Quotes are removed and `\` escapes the next
 * character (always `\`, whatever the escape directive says). A bare `--` ends the flags and is
 * dropped.
 *
 * Like BuildKit, this walks the UTF-8 bytes one at a time, so a non-ASCII character inside a flag
 * comes out as its bytes read as Latin-1 (`--chown=é` gives `--chown=Ã©`); the rest of the line is
 * returned intact.
 */
export function extractBuilderFlags(text: string): { args: string; flags: string[] } {
  const line = toByteString(text);
  const rest = (pos: number) => fromByteString(line.slice(pos));
  const words: string[] = [];
  let phase = Phase.Spaces;
  let word = '';
  let quote = '';
  let blankOK = false;

  for (let pos = 0; pos <= line.length; pos++) {
    const atEnd = pos === line.length;
    let ch = atEnd ? '' : (line[pos] as string);
    if (phase === Phase.Spaces) {
      if (atEnd) break;
      if (isSpace(ch)) continue;
      const startsFlag = ch === '-' && pos + 1 < line.length && line[pos + 1] === '-';
      if (!startsFlag) return { args: rest(pos), flags: words };
      phase = Phase.Word;
    }
    if (atEnd) {
      if (word !== '--' && (blankOK || word.length > 0)) words.push(word);
      break;
    }
    if (phase === Phase.Word) {
      if (isSpace(ch)) {
        phase = Phase.Spaces;
        if (word === '--') return { args: rest(pos), flags: words };
        if (blankOK || word.length > 0) words.push(word);
        word = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = Phase.Quote;
        continue;
      }
      if (ch === '\\') {
        if (pos + 1 === line.length) continue;
        pos++;
        ch = line[pos] as string;
      }
      word += ch;
      continue;
    }
    // Phase.Quote
    if (ch === quote) {
      phase = Phase.Word;
      continue;
    }
    if (ch === '\\') {
      if (pos + 1 === line.length) {
        phase = Phase.Word;
        continue;
      }
      pos++;
      ch = line[pos] as string;
    }
    word += ch;
  }
  return { args: '', flags: words };
}
