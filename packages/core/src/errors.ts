/**
 * One error type for everything wharf reports about user input, the environment or a peer.
 *
 * `code` is stable (tests and tools match on it), `message` says what went wrong in one line,
 * `hint` says how to fix it, and `location` points at the input (a build.ts call site or a
 * Dockerfile range) when there is one.
 *
 * @example
 * throw new WharfError('IR_UNKNOWN_STAGE', `stage "app" copies from unknown stage "buld"`, {
 *   hint: 'pass the stage value itself: .copy(build, "/out", "/app")',
 *   location: { file: 'build.ts', line: 12 },
 * });
 */
export class WharfError<Code extends string = string> extends Error {
  override readonly name: string = 'WharfError';
  readonly code: Code;
  readonly hint: string | undefined;
  readonly location: SourceLocation | undefined;

  constructor(code: Code, message: string, options: WharfErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
    this.location = options.location;
  }

  /** `file:line:col: message` when there is a location, else the message; the hint on its own line. */
  describe(): string {
    const where = this.location ? `${formatLocation(this.location)}: ` : '';
    return this.hint ? `${where}${this.message}\n  hint: ${this.hint}` : `${where}${this.message}`;
  }
}

export interface WharfErrorOptions {
  readonly hint?: string | undefined;
  readonly cause?: unknown;
  readonly location?: SourceLocation | undefined;
}

/** Where a piece of input came from: a build.ts call site or a Dockerfile range (1-based). */
export interface SourceLocation {
  readonly file: string;
  readonly line: number;
  readonly column?: number;
  readonly endLine?: number;
}

export function formatLocation(location: SourceLocation): string {
  return location.column === undefined
    ? `${location.file}:${location.line}`
    : `${location.file}:${location.line}:${location.column}`;
}

/**
 * Whether `value` is a `WharfError` (every error wharf throws about input, the environment or a peer).
 * @example
 * try { await build(app); } catch (error) {
 *   if (isWharfError(error)) console.error(error.describe()); else throw error;
 * }
 */
export function isWharfError(value: unknown): value is WharfError {
  return value instanceof WharfError;
}

/**
 * The candidate closest to `name` by edit distance, ignoring case, when at most 2 edits away: the
 * "did you mean" of unknown options, targets and variables.
 * @example closest('cachedir', ['cacheDir', 'noCache']) // 'cacheDir'
 */
export function closest(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of candidates) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}

/**
 * The hint for names that are not among `known`: `did you mean "…"?` with the close ones, then the list.
 * @example unknownNameHint('mount', ['mounts', 'network']) // 'did you mean "mounts"? options: mounts, network'
 */
export function unknownNameHint(
  names: string | readonly string[],
  known: readonly string[],
  what = 'options:',
): string {
  const near = (typeof names === 'string' ? [names] : names).flatMap((name) => closest(name, known) ?? []);
  const guess = near.length === 0 ? '' : `did you mean ${near.map((n) => `"${n}"`).join(', ')}? `;
  return `${guess}${what} ${known.join(', ')}`;
}

/** Levenshtein distance (insertions, deletions, substitutions). */
function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(
        (row[j] as number) + 1,
        (next[j - 1] as number) + 1,
        (row[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    row = next;
  }
  return row[b.length] as number;
}

/*
 * Filesystem errors a user can fix (a full disk, permissions, a read-only filesystem), told as one
 * line naming the path and a hint, wherever wharf writes: outputs (export/), the cache (store/), the CLI.
 */
interface Problem {
  readonly what: string;
  readonly hint: (path: string) => string;
}

const PROBLEMS: Readonly<Record<string, Problem>> = {
  ENOSPC: {
    what: 'no space left on the device',
    hint: () => 'free some space there (wharf cache prune frees the cache), or write somewhere else',
  },
  EDQUOT: { what: 'the disk quota is exceeded', hint: () => 'free some space, or write somewhere else' },
  EACCES: {
    what: 'permission denied',
    hint: (path) => `make ${path} writable for this user (or its folder), or write somewhere else`,
  },
  EPERM: {
    what: 'the operation is not permitted (an immutable or append-only file or folder?)',
    hint: (path) => `check ${path} and its folder (lsattr; chattr -i), or write somewhere else`,
  },
  EROFS: {
    what: 'the filesystem is read-only',
    hint: () => 'write to a writable filesystem, or remount this one read-write',
  },
};

/** `{ message, hint }` for a filesystem error (full disk, permissions, read-only) about `path`. */
export function fileSystemProblem(
  error: unknown,
  path?: string,
): { readonly message: string; readonly hint: string } | undefined {
  const errno = error as NodeJS.ErrnoException | undefined;
  const problem = errno?.code ? PROBLEMS[errno.code] : undefined;
  const where = path ?? errno?.path;
  if (!problem || !where) return undefined;
  return { message: `cannot write ${where}: ${problem.what}`, hint: problem.hint(where) };
}
