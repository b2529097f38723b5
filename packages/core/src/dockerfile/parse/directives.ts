import { parseFailure } from './parse-error.js';

/** The escape characters a Dockerfile may choose with `# escape=`. */
export type EscapeToken = '\\' | '`';

/** A parser directive found at the top of the file. */
export interface Directive {
  /** Lower-cased key: `syntax`, `escape` or `check`. */
  readonly name: DirectiveName;
  readonly value: string;
  /** 1-based line. */
  readonly line: number;
}

export type DirectiveName = 'syntax' | 'escape' | 'check';

const DIRECTIVE_NAMES: ReadonlySet<string> = new Set<DirectiveName>(['syntax', 'escape', 'check']);

// Go's `^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`, with Go's `\s` and `.` spelled out.
const RE_DIRECTIVE = /^#[\t\n\f\r ]*([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*([^\n]+?)[\t\n\f\r ]*$/;

/**
 * Recognises parser directives in the unbroken run of `# key=value` lines at the top of a file.
 * Feed it every line in order; the first line that is not a known directive ends the run (a blank
 * line, a plain comment, an unknown key, a shebang, an instruction).
 */
export class DirectiveParser {
  #line = 0;
  #done = false;
  readonly #seen = new Set<string>();

  /** The directive on this line, or undefined. Throws on a repeated directive. */
  parseLine(line: string): Directive | undefined {
    this.#line++;
    if (this.#done) return undefined;
    const match = RE_DIRECTIVE.exec(line);
    const name = match?.[1]?.toLowerCase();
    if (match === null || name === undefined || !DIRECTIVE_NAMES.has(name)) {
      this.#done = true;
      return undefined;
    }
    if (this.#seen.has(name)) {
      throw parseFailure(
        `only one ${name} parser directive can be used`,
        'remove the repeated directive line',
      );
    }
    this.#seen.add(name);
    return { name: name as DirectiveName, value: match[2] as string, line: this.#line };
  }
}

/** Validates an `# escape=` value. */
export function toEscapeToken(value: string): EscapeToken {
  if (value !== '`' && value !== '\\') {
    throw parseFailure(
      `invalid escape token '${value}' does not match \` or \\`,
      'write "# escape=\\" (the default) or "# escape=`"',
    );
  }
  return value;
}

/**
 * The regexp that finds a line continuation: the escape character at the end of the line
 * (optionally followed by spaces/tabs), not itself escaped, or alone on the line.
 */
export function continuationPattern(escapeToken: EscapeToken): RegExp {
  const e = escapeToken === '\\' ? '\\\\' : '`';
  return new RegExp(`([^${e}])${e}[ \\t]*$|^${e}[ \\t]*$`);
}
