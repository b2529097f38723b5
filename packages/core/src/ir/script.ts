import type { Heredoc } from './types.js';

/**
 * RUN script normalisation for multi-line template literals:
 *
 *     .run(`
 *       apt-get update
 *       apt-get install -y curl
 *     `)
 *
 * is dedented, and when every line is a complete simple command the lines are joined with ` && ` so the
 * step stops at the first failing line (what authors of such lists expect, and what a Dockerfile writes
 * as a `&&` chain). Lines ending in `\` are joined first, as in a Dockerfile. Anything else — comments,
 * `if`/`for` blocks, pipes or operators at a line end, heredocs — is kept as written and becomes a
 * `RUN <<EOF` heredoc. With `{ join: false }` (a script, `asScript`) the text is kept byte for byte.
 */

export function normalizeScript(script: string, options: { readonly join?: boolean } = {}): string {
  if (!script.includes('\n')) return script;
  if (options.join === false) return exactBlock(script);
  const lines = joinContinuations(dedent(script));
  if (lines.length === 1) return lines[0] ?? '';
  const nonBlank = lines.filter((line) => line.trim() !== '');
  return nonBlank.every(isSimpleCommandLine)
    ? nonBlank.map((line) => line.trim()).join(' && ')
    : lines.join('\n');
}

/**
 * A script is bytes: kept exactly, except the indentation of a template literal laid out as a block
 * (a line break right after the opening backtick, only blanks before the closing one): that first
 * break, that last line and the indentation all lines share are removed — nothing else.
 */
function exactBlock(script: string): string {
  const lines = script.split('\n');
  const last = lines.at(-1) ?? '';
  if (lines[0] !== '' || lines.length < 3 || !/^[ \t]*$/.test(last)) return script;
  const body = lines.slice(1, -1);
  const indents = body.filter((l) => !/^[ \t]*$/.test(l)).map((l) => /^[ \t]*/.exec(l)?.[0] ?? '');
  let common = indents[0] ?? '';
  for (const indent of indents) while (!indent.startsWith(common)) common = common.slice(0, -1);
  return body.map((l) => (l.startsWith(common) ? l.slice(common.length) : '')).join('\n');
}

/**
 * Lines ending in `\` continue on the next one, as a Dockerfile joins them: the backslash and the line
 * break go, the next line's indentation stays. Not inside quotes or a heredoc (the shell keeps those).
 */
function joinContinuations(lines: readonly string[]): string[] {
  if (lines.some((line) => line.includes('<<'))) return [...lines];
  const out: string[] = [];
  let pending: string | undefined;
  for (const line of lines) {
    const text = pending === undefined ? line : pending + line;
    const head = text.replace(/\\$/, '');
    if (/(^|[^\\])(\\\\)*\\$/.test(text) && quotesBalanced(head)) pending = head;
    else {
      out.push(text);
      pending = undefined;
    }
  }
  if (pending !== undefined) out.push(`${pending}\\`);
  return out;
}

/** Removes blank first/last lines and the indentation common to all non-blank lines. */
function dedent(script: string): string[] {
  const lines = script.replace(/\r\n/g, '\n').split('\n');
  while (lines.length && lines[0]?.trim() === '') lines.shift();
  while (lines.length && lines[lines.length - 1]?.trim() === '') lines.pop();
  const indents = lines.filter((l) => l.trim() !== '').map((l) => /^[ \t]*/.exec(l)?.[0].length ?? 0);
  const common = indents.length ? Math.min(...indents) : 0;
  return lines.map((l) => l.slice(common).replace(/[ \t]+$/, ''));
}

const blockKeyword = /^(if|then|else|elif|fi|for|while|until|do|done|case|esac|function|select)\b|^[{}()]/;
const continuesNextLine = /(\\|&&|\|\||\||&|;|\bthen|\bdo|\belse|\bin|[{(])$/;

function isSimpleCommandLine(line: string): boolean {
  const text = line.trim();
  if (text.startsWith('#') || blockKeyword.test(text) || continuesNextLine.test(text)) return false;
  if (text.includes('<<') || /\w+\s*\(\)\s*\{?/.test(text)) return false;
  return quotesBalanced(text);
}

/** True when no quote or `$(`/backtick is left open at the end of the line. */
function quotesBalanced(text: string): boolean {
  let quote: string | undefined;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\' && quote !== "'") {
      i++;
      continue;
    }
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'" || c === '`') {
      quote = c;
    } else if (c === '$' && text[i + 1] === '(') {
      depth++;
      i++;
    } else if (c === ')' && depth > 0) {
      depth--;
    }
  }
  return quote === undefined && depth === 0;
}

/**
 * A multi-line RUN script that starts with `#!` is a script file, not `sh -c` text: the Dockerfile holds it
 * as a lone `RUN <<EOF` heredoc, which BuildKit (and the direct backend) write to a file and run, so the
 * shebang chooses the interpreter. The heredoc's content is the script and the line break that ends its
 * last line (the one the `EOF` line follows), so `heredocScript` gives the script back byte for byte.
 */
export function shebangHeredoc(
  script: string,
): { command: { form: 'shell'; script: string }; heredocs: Heredoc[] } | undefined {
  if (!script.startsWith('#!') || !script.includes('\n')) return undefined;
  const lines = new Set(script.split('\n'));
  let name = 'EOF';
  for (let n = 1; lines.has(name); n++) name = `EOF${n}`;
  return {
    command: { form: 'shell', script: `<<${name}` },
    heredocs: [{ name, content: `${script}\n`, expand: true, chomp: false }],
  };
}
