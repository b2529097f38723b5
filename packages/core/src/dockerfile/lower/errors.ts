import { type SourceLocation, WharfError } from '../../errors.js';

/**
 * `DOCKERFILE_INSTRUCTION`: BuildKit rejects the instruction (its wording, e.g. `unknown flag: --boo`).
 * `DOCKERFILE_UNSUPPORTED`: BuildKit accepts it but the IR cannot hold it (e.g. `RUN --device`).
 */
export type DockerfileLowerErrorCode = 'DOCKERFILE_INSTRUCTION' | 'DOCKERFILE_UNSUPPORTED';

/** An error about one instruction of a Dockerfile; `location` is the instruction's line range. */
export class DockerfileLowerError extends WharfError<DockerfileLowerErrorCode> {
  override readonly name: string = 'DockerfileLowerError';
}

/** Raised by helpers that do not know the instruction; `lowerDockerfile` adds the location. */
export class InstructionProblem extends Error {
  constructor(
    message: string,
    readonly hint?: string,
    readonly code: DockerfileLowerErrorCode = 'DOCKERFILE_INSTRUCTION',
  ) {
    super(message);
  }
}

export const problem = (message: string, hint?: string): InstructionProblem =>
  new InstructionProblem(message, hint);

export const unsupported = (message: string, hint?: string): InstructionProblem =>
  new InstructionProblem(message, hint, 'DOCKERFILE_UNSUPPORTED');

/** Turns a helper's problem (or a lexer error) into a located DockerfileLowerError. */
export function locate(error: unknown, location: SourceLocation): Error {
  if (error instanceof InstructionProblem) {
    return new DockerfileLowerError(error.code, error.message, { hint: error.hint, location });
  }
  if (error instanceof WharfError && error.location === undefined) {
    return new WharfError(error.code, error.message, { hint: error.hint, cause: error, location });
  }
  return error instanceof Error ? error : new Error(String(error));
}
