/**
 * Dockerfile text → AST, with BuildKit's exact rules (`frontend/dockerfile/parser/parser.go`):
 * parser directives at the top, line continuations (comment and blank lines inside them skipped),
 * per-instruction argument parsing, heredoc bodies, line ranges and warnings.
 *
 * @example
 * const { ast } = parseDockerfile('FROM alpine\nRUN echo hi\n');
 * dump(ast) // '(from "alpine")\n(run "echo hi")'
 */
import type { SourceLocation } from '../../errors.js';
import {
  continuationPattern,
  type Directive,
  DirectiveParser,
  type EscapeToken,
  toEscapeToken,
} from './directives.js';
import { trimLeftSpace, trimSpace, utf8Length } from './go-text.js';
import { canContainHeredoc, heredocsFromLine } from './heredoc.js';
import { nodeFromLine } from './line-parsers.js';
import { type Heredoc, makeNode, type Node } from './node.js';
import { DockerfileParseError, withLocation } from './parse-error.js';

export interface ParseOptions {
  /** File name for error locations. Default `Dockerfile`. */
  readonly file?: string | undefined;
}

export interface ParseResult {
  /** The root node: one child per instruction. */
  readonly ast: Node;
  readonly escapeToken: EscapeToken;
  /** Parser directives from the top of the file (`syntax`, `escape`, `check`). */
  readonly directives: readonly Directive[];
  /** Every comment line above the first instruction (directives excepted), `#` and edge blanks removed. */
  readonly leadingComments: readonly string[];
  readonly warnings: readonly ParseWarning[];
}

/** A non-fatal finding, as BuildKit's `parser.Warning`. */
export interface ParseWarning {
  readonly short: string;
  readonly detail: string;
  readonly url: string;
  readonly location: SourceLocation;
}

/** Longest accepted physical line, in bytes (Go's `bufio.MaxScanTokenSize - 1`). */
const MAX_LINE_BYTES = 64 * 1024 - 1;

/** Physical lines, each with its line ending (Go's `bufio.Scanner` with BuildKit's `scanLines`). */
class LineReader {
  readonly #lines: string[];
  #index = 0;

  constructor(
    text: string,
    private readonly locate: (line: number) => SourceLocation,
  ) {
    const parts = text.split('\n');
    this.#lines = parts.map((part, i) => (i < parts.length - 1 ? `${part}\n` : part));
    if (this.#lines.at(-1) === '') this.#lines.pop();
  }

  /** The next line, or undefined at the end. */
  next(): string | undefined {
    const line = this.#lines[this.#index];
    if (line === undefined) return undefined;
    this.#index++;
    if (line.length > MAX_LINE_BYTES / 3 && utf8Length(line.replace(/\n$/, '')) > MAX_LINE_BYTES) {
      throw new DockerfileParseError(
        'DOCKERFILE_PARSE',
        `dockerfile line greater than max allowed size of ${MAX_LINE_BYTES}`,
        { location: this.locate(this.#index) },
      );
    }
    return line;
  }

  /** The physical line `n` (1-based) without its line ending. */
  line(n: number): string {
    return trimNewline(this.#lines[n - 1] ?? '');
  }
}

/** Parser state that directives can change. */
class ParserState {
  readonly directives: Directive[] = [];
  readonly #directiveParser = new DirectiveParser();
  escapeToken: EscapeToken = '\\';
  #continuation = continuationPattern('\\');

  /** Records a directive if `token` is one; true when it was. */
  possibleDirective(token: string): boolean {
    const directive = this.#directiveParser.parseLine(token);
    if (directive === undefined) return false;
    if (directive.name === 'escape') {
      this.escapeToken = toEscapeToken(directive.value);
      this.#continuation = continuationPattern(this.escapeToken);
    }
    this.directives.push(directive);
    return true;
  }

  /** Removes a trailing line-continuation escape; `done` is false when the line continues. */
  trimContinuation(line: string): { line: string; done: boolean } {
    const re = this.#continuation;
    if (!re.test(line)) return { line, done: true };
    return { line: line.replace(re, (_m, before: string | undefined) => before ?? ''), done: false };
  }
}

function trimNewline(s: string): string {
  let end = s.length;
  while (end > 0 && (s[end - 1] === '\n' || s[end - 1] === '\r')) end--;
  return s.slice(0, end);
}

function isComment(line: string): boolean {
  return trimLeftSpace(line).startsWith('#');
}

function isEmptyContinuationLine(line: string): boolean {
  return trimLeftSpace(trimNewline(line)) === '';
}

/**
 * Parses Dockerfile text. Throws {@link DockerfileParseError} (`DOCKERFILE_PARSE`, with a location)
 * on what BuildKit rejects: a bad or repeated directive, a non-string JSON array, `ENV key` without
 * a value, an unterminated heredoc, a file with no instructions.
 */
export function parseDockerfile(text: string, options: ParseOptions = {}): ParseResult {
  const file = options.file ?? 'Dockerfile';
  const locate = (line: number, endLine?: number): SourceLocation => {
    const physical = reader.line(line);
    const column = physical.length - trimLeftSpace(physical).length + 1;
    return endLine !== undefined && endLine > line ? { file, line, column, endLine } : { file, line, column };
  };
  const reader = new LineReader(text, (line) => locate(line));
  const state = new ParserState();
  const children: Node[] = [];
  const warnings: ParseWarning[] = [];
  let comments: string[] = [];
  const leadingComments: string[] = [];
  let currentLine = 0;

  // One line through BuildKit's `processLine`: trim the newline (and leading space on an
  // instruction's first line), look for a directive, blank out comments.
  const processLine = (raw: string, stripLeft: boolean): { token: string; directive: boolean } => {
    let token = trimNewline(raw);
    if (stripLeft) token = trimLeftSpace(token);
    let directive: boolean;
    try {
      directive = state.possibleDirective(token);
    } catch (err) {
      throw withLocation(err, locate(currentLine + 1));
    }
    return { token: isComment(token) ? '' : token, directive };
  };

  for (let raw = reader.next(); raw !== undefined; raw = reader.next()) {
    if (currentLine === 0 && raw.startsWith('\uFEFF')) raw = raw.slice(1);
    if (isComment(raw)) {
      const comment = trimSpace(raw.slice(1));
      if (comment === '') comments = [];
      else comments.push(comment);
    }
    const first = processLine(raw, true);
    if (first.directive) comments.pop();
    else if (children.length === 0 && isComment(raw)) leadingComments.push(trimSpace(raw.slice(1)));
    currentLine++;
    const startLine = currentLine;

    let { line, done } = state.trimContinuation(first.token);
    if (done && line === '') continue;

    let hasEmptyContinuationLine = false;
    while (!done) {
      const next = reader.next();
      if (next === undefined) break;
      const { token } = processLine(next, false);
      currentLine++;
      if (isComment(next)) continue;
      if (isEmptyContinuationLine(token)) {
        hasEmptyContinuationLine = true;
        continue;
      }
      const trimmed = state.trimContinuation(token);
      line += trimmed.line;
      done = trimmed.done;
    }

    if (hasEmptyContinuationLine) {
      warnings.push({
        short: `Empty continuation line found in: ${line}`,
        detail: 'Empty continuation lines will become errors in a future release',
        url: 'https://docs.docker.com/go/dockerfile/rule/no-empty-continuation/',
        location: { file, line: currentLine },
      });
    }

    let child: Node;
    try {
      child = nodeFromLine(line, state.escapeToken, comments);
    } catch (err) {
      throw withLocation(err, locate(startLine, currentLine));
    }

    if (canContainHeredoc(child) && line.includes('<<')) {
      let headers: ReturnType<typeof heredocsFromLine>;
      try {
        headers = heredocsFromLine(line);
      } catch (err) {
        throw withLocation(err, locate(startLine, currentLine));
      }
      const heredocs: Heredoc[] = [];
      for (const header of headers) {
        let content = '';
        let terminated = false;
        for (let body = reader.next(); body !== undefined; body = reader.next()) {
          currentLine++;
          let candidate = trimNewline(body);
          if (header.chomp) candidate = candidate.replace(/^\t+/, '');
          if (candidate === header.name) {
            terminated = true;
            break;
          }
          content += body;
        }
        if (!terminated) {
          throw new DockerfileParseError('DOCKERFILE_PARSE', 'unterminated heredoc', {
            hint: `end the heredoc with a line holding only ${header.name}`,
            location: locate(startLine, currentLine),
          });
        }
        heredocs.push({ ...header, content });
      }
      child = { ...child, heredocs };
    }

    children.push({ ...child, startLine, endLine: currentLine });
    comments = [];
  }

  const firstChild = children[0];
  const lastChild = children.at(-1);
  if (firstChild === undefined || lastChild === undefined) {
    throw new DockerfileParseError('DOCKERFILE_PARSE', 'file with no instructions', {
      hint: 'a Dockerfile needs at least one instruction, usually FROM',
      location: { file, line: Math.max(currentLine, 1), column: 1 },
    });
  }
  return {
    ast: makeNode({ children, startLine: firstChild.startLine, endLine: lastChild.endLine }),
    escapeToken: state.escapeToken,
    directives: state.directives,
    leadingComments,
    warnings,
  };
}
