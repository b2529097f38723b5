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
 * as a `&&` chain). Anything else — comments, `if`/`for` blocks, pipes or operators at a line end, `\`
 * continuations, heredocs — is kept exactly as written and becomes a `RUN <<EOF` heredoc.
 */

export function normalizeScript(script: string, options: { readonly join?: boolean } = {}): string {
  if (!script.includes('\n')) return script;
  const lines = dedent(script);
  if (lines.length === 1) return lines[0] ?? '';
  if (options.join === false) return lines.join('\n');
  const nonBlank = lines.filter((line) => line.trim() !== '');
  return nonBlank.every(isSimpleCommandLine)
    ? nonBlank.map((line) => line.trim()).join(' && ')
    : lines.join('\n');
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
