/**
 * Heredocs (`RUN <<EOF`, `COPY <<-'A' <<B /dst/`): which words open one, what the terminator is,
 * and whether the body is expanded — BuildKit's rules, including its trick of lexing the terminator
 * with and without raw quotes and comparing the quote counts.
 */
import type { Heredoc, Node } from './node.js';
import { processWords } from './shell-lexer.js';

/** A heredoc found on an instruction line; the body is read by the parser. */
export type HeredocHeader = Omit<Heredoc, 'content'>;

const HEREDOC_INSTRUCTIONS = new Set(['add', 'copy', 'run']);
const HEREDOC_COMPOUND_INSTRUCTIONS = new Set(['onbuild']);

// Go's `^(\d*)<<(-?)\s*([^<]*)$`.
const RE_HEREDOC = /^([0-9]*)<<(-?)[\t\n\f\r ]*([^<]*)$/;

const noEnv = (): undefined => undefined;

function countQuotes(s: string): number {
  let n = 0;
  for (const ch of s) if (ch === "'" || ch === '"') n++;
  return n;
}

/**
 * Parses one word (`<<EOF`, `3<<-'EOF'`) as a heredoc opener; undefined if it is not one.
 * Throws on an unterminated quote (`<<'EOF`).
 */
export function parseHeredocWord(word: string): HeredocHeader | undefined {
  const match = RE_HEREDOC.exec(word);
  if (!match) return undefined;
  const rest = match[3] as string;
  if (rest === '') return undefined;
  const words = processWords(rest, noEnv, { skipUnsetEnv: true });
  if (words.length !== 1) return undefined;
  const raw = processWords(rest, noEnv, { skipUnsetEnv: true, rawQuotes: true });
  const name = words[0] as string;
  return {
    name,
    fileDescriptor: match[1] === '' ? 0 : Number.parseInt(match[1] as string, 10),
    // A quote that only the raw lexing keeps was a real quote: the terminator was quoted.
    expand: countQuotes(name) === countQuotes(raw[0] ?? ''),
    chomp: match[2] === '-',
  };
}

/** The heredocs opened on an instruction line, in order. */
export function heredocsFromLine(line: string): HeredocHeader[] {
  let words: string[];
  try {
    words = processWords(line, noEnv, { rawQuotes: true, rawEscapes: true, skipUnsetEnv: true });
  } catch {
    words = [];
  }
  const docs: HeredocHeader[] = [];
  for (const word of words) {
    const doc = parseHeredocWord(word);
    if (doc) docs.push(doc);
  }
  return docs;
}

/** True for shell-form RUN, COPY and ADD, also as ONBUILD's inner instruction. */
export function canContainHeredoc(node: Node): boolean {
  let target = node;
  const inner = node.next?.children[0];
  if (HEREDOC_COMPOUND_INSTRUCTIONS.has(node.value.toLowerCase()) && inner !== undefined) target = inner;
  return HEREDOC_INSTRUCTIONS.has(target.value.toLowerCase()) && !target.attributes.json;
}

/** Strips the leading tabs of every line, what `<<-` asks for (BuildKit's `ChompHeredocContent`). */
export function chompHeredocContent(content: string): string {
  return content.replace(/(^|\n)\t+/g, '$1');
}
