/**
 * Heredoc bodies. BuildKit reads the lines after a RUN/COPY/ADD line that holds `<<NAME` verbatim (no
 * continuation joining, no comment stripping) up to the first line equal to NAME (with leading tabs
 * removed for `<<-NAME`), and gives the body with every line's newline kept.
 */
import type { Heredoc } from '../../ir/types.js';
import { assertText, hasSpace, show, Unrepresentable } from './quote.js';

/** The body lines plus the terminator line. */
export function heredocBody(heredoc: Heredoc, what: string): string[] {
  const { name, content } = heredoc;
  assertText(content, what);
  if (content.includes('\r')) {
    throw new Unrepresentable(
      `${what} contains a carriage return`,
      'BuildKit drops CR before LF in heredocs',
    );
  }
  if (content !== '' && !content.endsWith('\n')) {
    throw new Unrepresentable(
      `${what} does not end with a newline`,
      'a Dockerfile heredoc body always ends with a newline; add one to the content',
    );
  }
  const lines = content === '' ? [] : content.slice(0, -1).split('\n');
  for (const line of lines) {
    const candidate = heredoc.chomp ? line.replace(/^\t+/, '') : line;
    if (candidate.replace(/[ \t]+$/, '') === name) {
      throw new Unrepresentable(
        `${what} contains a line equal to its delimiter ${show(name)}`,
        'choose a delimiter that does not occur as a line of the content',
      );
    }
  }
  return [...lines, name];
}

/** The `<<NAME` token for a COPY/ADD heredoc source (the name is also the file name). */
export function heredocToken(heredoc: Heredoc, what: string): string {
  const { name } = heredoc;
  // COPY args are split at whitespace before heredocs are recognised, so the token must be one bare word.
  if (name === '' || hasSpace(name) || /["'\\$<]/.test(name)) {
    throw new Unrepresentable(
      `${what} has heredoc name ${show(name)}`,
      'use a heredoc name without whitespace, quotes, backslashes, `$` or `<`',
    );
  }
  return `<<${heredoc.chomp ? '-' : ''}${heredoc.expand ? name : `"${name}"`}`;
}

/** A delimiter for a synthesized `RUN <<EOF` that does not occur anywhere in the script. */
export function freshDelimiter(script: string): string {
  if (!script.includes('EOF')) return 'EOF';
  for (let n = 1; ; n++) {
    const candidate = `EOF${n}`;
    if (!script.includes(candidate)) return candidate;
  }
}
