import { type SourceLocation, WharfError } from '../../errors.js';

/** Error codes of the Dockerfile parser, the shell-word lexer and the EXPOSE port parser. */
export type DockerfileParseErrorCode = 'DOCKERFILE_PARSE' | 'DOCKERFILE_EXPAND' | 'DOCKERFILE_PORT';

/** A parser error; `location` points at the Dockerfile lines (1-based) when there is one. */
export class DockerfileParseError extends WharfError<DockerfileParseErrorCode> {
  override readonly name: string = 'DockerfileParseError';
}

/** Raised inside the line parsers, which do not know the file or line; `parse` adds both. */
export function parseFailure(message: string, hint?: string, cause?: unknown): DockerfileParseError {
  return new DockerfileParseError('DOCKERFILE_PARSE', message, { hint, cause });
}

/**
 * Returns `err` with `location` added, as BuildKit's `WithLocation` does: an error that already has a
 * location keeps it; a non-parser error (from the lexer, say) becomes the `cause` of a parse error.
 */
export function withLocation(err: unknown, location: SourceLocation): DockerfileParseError {
  if (err instanceof DockerfileParseError) {
    if (err.location !== undefined) return err;
    return new DockerfileParseError(err.code, err.message, { hint: err.hint, cause: err.cause, location });
  }
  const message = err instanceof Error ? err.message : String(err);
  const hint = err instanceof WharfError ? err.hint : undefined;
  return new DockerfileParseError('DOCKERFILE_PARSE', message, { hint, cause: err, location });
}
