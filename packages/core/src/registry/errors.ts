/**
 * Registry errors: one code per thing a user can act on, mirroring the distribution spec's error codes
 * (`errors[].code` in a JSON error body) and HTTP statuses. Every error names the registry, the
 * repository and the operation, and says whether trying again may help (`retryable`), so retry logic
 * reads a property instead of parsing messages (go-containerregistry's `transport.Error.Temporary`).
 */
import { WharfError, type WharfErrorOptions } from '../errors.js';

export type RegistryErrorCode =
  /** 401 after credentials (or a token) were offered: wrong or missing credentials. */
  | 'REGISTRY_UNAUTHORIZED'
  /** 403 / `DENIED`: authenticated, but not allowed. */
  | 'REGISTRY_DENIED'
  /** 404 / `MANIFEST_UNKNOWN` / `BLOB_UNKNOWN` / `NAME_UNKNOWN`. */
  | 'REGISTRY_NOT_FOUND'
  /** Connection errors, timeouts, 5xx, 429 after the last attempt. */
  | 'REGISTRY_UNAVAILABLE'
  /** 429 / `TOOMANYREQUESTS` after the last attempt. */
  | 'REGISTRY_RATE_LIMITED'
  /** `MANIFEST_INVALID`, `MANIFEST_BLOB_UNKNOWN`, `NAME_INVALID`, `SIZE_INVALID`, `DIGEST_INVALID`… */
  | 'REGISTRY_INVALID'
  /** `BLOB_UPLOAD_UNKNOWN` / `BLOB_UPLOAD_INVALID`: the upload session is gone. */
  | 'REGISTRY_UPLOAD_LOST'
  /** Content that does not match its digest (pull side). */
  | 'REGISTRY_DIGEST_MISMATCH'
  /** `UNSUPPORTED`, or a document wharf cannot read (schema 1). */
  | 'REGISTRY_UNSUPPORTED'
  /** TLS: unknown CA, wrong host name, or HTTPS spoken to an HTTP server. */
  | 'REGISTRY_TLS'
  /** The registry answered in a way the protocol does not allow. */
  | 'REGISTRY_PROTOCOL'
  /** Reading or writing credentials (docker config, credential helpers). */
  | 'REGISTRY_CREDENTIALS'
  /** No image for the requested platform in an index. */
  | 'REGISTRY_NO_PLATFORM'
  /** A response or blob longer than wharf reads (a document's limit, or a blob's descriptor size). */
  | 'REGISTRY_TOO_LARGE';

/** One entry of a distribution-spec error body. */
export interface SpecError {
  readonly code: string;
  readonly message?: string;
  readonly detail?: unknown;
}

/** What was being done when the error happened. */
export interface RegistryErrorContext {
  /** `docker.io`, `ghcr.io`, `127.0.0.1:5000`. */
  readonly registry: string;
  readonly repository?: string;
  /** `pull manifest latest`, `push blob sha256:…`, `login`. */
  readonly operation: string;
}

export interface RegistryErrorOptions extends WharfErrorOptions {
  readonly retryable?: boolean;
  readonly status?: number;
  readonly specErrors?: readonly SpecError[];
  /** Milliseconds the registry asked us to wait (`Retry-After`). */
  readonly retryAfterMs?: number;
  readonly context?: RegistryErrorContext;
}

/** A `WharfError` whose code is one of {@link RegistryErrorCode}; it says whether a retry may help. */
export class RegistryError extends WharfError<RegistryErrorCode> {
  override readonly name: string = 'RegistryError';
  /** True when the same request may succeed later (connection errors, 429, 5xx). */
  readonly retryable: boolean;
  readonly status: number | undefined;
  readonly specErrors: readonly SpecError[];
  readonly retryAfterMs: number | undefined;
  readonly context: RegistryErrorContext | undefined;

  constructor(code: RegistryErrorCode, message: string, options: RegistryErrorOptions = {}) {
    super(code, message, options);
    this.retryable = options.retryable ?? false;
    this.status = options.status;
    this.specErrors = options.specErrors ?? [];
    this.retryAfterMs = options.retryAfterMs;
    this.context = options.context;
  }
}

/** True for errors a retry may fix: retryable RegistryErrors and raw network errors. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof RegistryError) return error.retryable;
  return isConnectionError(error);
}

/** The transport's idle timeout ran out waiting for response headers (the error's `code`). */
export const HEADERS_TIMEOUT = 'WHARF_HTTP_HEADERS_TIMEOUT';
/** The transport's idle timeout ran out between two pieces of a response body (the error's `code`). */
export const BODY_TIMEOUT = 'WHARF_HTTP_BODY_TIMEOUT';

const CONNECTION_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  HEADERS_TIMEOUT,
  BODY_TIMEOUT,
  'ERR_HTTP_CONTENT_LENGTH_MISMATCH',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/** A network-level failure (reset, refused, timeout, premature close), possibly wrapped as `cause`. */
export function isConnectionError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as Error).cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && CONNECTION_CODES.has(code)) return true;
    if (e instanceof Error && /other side closed|socket hang up|terminated/i.test(e.message)) return true;
  }
  return false;
}

/** TLS failures: certificate problems, or HTTPS spoken to a plain-HTTP server. */
export function isTlsError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as Error).cause, depth++) {
    const code = String((e as NodeJS.ErrnoException).code ?? '');
    if (
      code.startsWith('ERR_TLS') ||
      code.startsWith('ERR_SSL') ||
      code === 'EPROTO' ||
      /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|HOSTNAME|ALTNAME/.test(code)
    ) {
      return true;
    }
  }
  return false;
}

const CERTIFICATE_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|HOSTNAME|ALTNAME/;

/** The server speaks TLS but its certificate is not trusted (as opposed to a server that does not speak TLS). */
export function isCertificateError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as Error).cause, depth++) {
    if (CERTIFICATE_CODES.test(String((e as NodeJS.ErrnoException).code ?? ''))) return true;
  }
  return false;
}

/** Parses a distribution-spec error body; anything else gives `[]`. */
export function parseSpecErrors(body: string): SpecError[] {
  try {
    const doc = JSON.parse(body) as { errors?: unknown };
    if (!Array.isArray(doc.errors)) return [];
    return doc.errors
      .filter((e): e is Record<string, unknown> => typeof e === 'object' && e !== null)
      .map((e) => ({
        code: String(e.code ?? 'UNKNOWN'),
        ...(typeof e.message === 'string' ? { message: e.message } : {}),
        ...(e.detail !== undefined ? { detail: e.detail } : {}),
      }));
  } catch {
    return [];
  }
}

const NOT_FOUND_CODES = new Set(['MANIFEST_UNKNOWN', 'BLOB_UNKNOWN', 'NAME_UNKNOWN']);
const INVALID_CODES = new Set([
  'MANIFEST_INVALID',
  'MANIFEST_BLOB_UNKNOWN',
  'NAME_INVALID',
  'SIZE_INVALID',
  'DIGEST_INVALID',
  'TAG_INVALID',
  'MANIFEST_UNVERIFIED',
  'PAGINATION_NUMBER_INVALID',
  'RANGE_INVALID',
]);

/**
 * The registry's own words, made safe to print: control characters (newlines, terminal escapes) become
 * spaces, and the text is cut at 300 characters, so an error stays one line whatever the body held.
 */
export function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
  const flat = text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();
  return flat.length > 300 ? `${flat.slice(0, 300)}…` : flat;
}

function where(context: RegistryErrorContext): string {
  return context.repository ? `${context.registry}/${context.repository}` : context.registry;
}

/**
 * The error for an unexpected HTTP status: the code from the spec error body when there is one, else
 * from the status. The message names operation, registry and repository, and the registry's own words.
 */
export function errorFromResponse(
  status: number,
  body: string,
  context: RegistryErrorContext,
  extra: { retryAfterMs?: number } = {},
): RegistryError {
  const specErrors = parseSpecErrors(body);
  const codes = new Set(specErrors.map((e) => e.code));
  const said = specErrors.map((e) => (e.message ? `${e.code}: ${e.message}` : e.code)).join('; ');
  const detail = printable(
    said || (body.trim() && body.length < 300 && !body.trimStart().startsWith('<') ? body.trim() : ''),
  );
  const base = `${context.operation} on ${where(context)} failed: HTTP ${status}${detail ? ` (${detail})` : ''}`;
  const common = {
    status,
    specErrors,
    context,
    ...(extra.retryAfterMs !== undefined ? { retryAfterMs: extra.retryAfterMs } : {}),
  };
  if (status === 429 || codes.has('TOOMANYREQUESTS')) {
    return new RegistryError('REGISTRY_RATE_LIMITED', base, {
      ...common,
      retryable: true,
      hint: 'the registry is rate limiting; wait and try again, or log in for a higher limit',
    });
  }
  if (status === 401 || codes.has('UNAUTHORIZED')) {
    return new RegistryError('REGISTRY_UNAUTHORIZED', base, {
      ...common,
      hint: `log in first: wharf login ${context.registry} (or check the username and password)`,
    });
  }
  if (status === 403 || codes.has('DENIED')) {
    return new RegistryError('REGISTRY_DENIED', base, {
      ...common,
      hint: `the account has no ${context.operation.startsWith('push') ? 'push' : 'pull'} access to ${where(context)}`,
    });
  }
  if (codes.has('BLOB_UPLOAD_UNKNOWN') || codes.has('BLOB_UPLOAD_INVALID')) {
    return new RegistryError('REGISTRY_UPLOAD_LOST', base, {
      ...common,
      hint: 'the upload session expired or was cancelled; the push starts that blob again',
    });
  }
  if (codes.has('UNSUPPORTED')) {
    return new RegistryError('REGISTRY_UNSUPPORTED', base, { ...common });
  }
  if (status === 404 || [...codes].some((c) => NOT_FOUND_CODES.has(c))) {
    return new RegistryError('REGISTRY_NOT_FOUND', base, {
      ...common,
      hint: `check the name and tag; the registry has no such ${context.operation.includes('blob') ? 'blob' : 'image'}`,
    });
  }
  if (status >= 500 || status === 408) {
    return new RegistryError('REGISTRY_UNAVAILABLE', base, {
      ...common,
      retryable: status === 408 || status === 500 || status === 502 || status === 503 || status === 504,
      hint: 'the registry is having trouble; try again later',
    });
  }
  if ([...codes].some((c) => INVALID_CODES.has(c)) || status === 400 || status === 413 || status === 416) {
    return new RegistryError('REGISTRY_INVALID', base, { ...common });
  }
  return new RegistryError('REGISTRY_PROTOCOL', base, { ...common });
}

function errorCode(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as Error).cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** A network failure in words; the transport's timeouts say which limit ran out and how to change it. */
function networkReason(error: unknown, timeoutMs: number | undefined): string {
  const limit = timeoutMs === undefined ? '' : ` for ${timeoutMs / 1000} s`;
  switch (errorCode(error)) {
    case BODY_TIMEOUT:
      return `the registry stopped sending (no data${limit}; WHARF_REGISTRY_TIMEOUT sets the idle timeout in seconds)`;
    case HEADERS_TIMEOUT:
      return `the registry did not answer${limit} (WHARF_REGISTRY_TIMEOUT sets the timeout in seconds)`;
    default:
      return error instanceof Error ? error.message : String(error);
  }
}

/** Wraps a network-level failure (after retries) with registry, repository and operation. */
export function errorFromNetwork(
  error: unknown,
  context: RegistryErrorContext,
  attempts: number,
  timeoutMs?: number,
): RegistryError {
  if (error instanceof RegistryError) return error;
  const reason = networkReason(error, timeoutMs);
  if (isTlsError(error)) {
    return new RegistryError(
      'REGISTRY_TLS',
      `${context.operation} on ${where(context)}: TLS failed: ${reason}`,
      {
        cause: error,
        context,
        hint: 'trust the registry CA (caFile / --ca-file, or NODE_EXTRA_CA_CERTS), or mark the registry insecure if it speaks plain HTTP',
      },
    );
  }
  return new RegistryError(
    'REGISTRY_UNAVAILABLE',
    `${context.operation} on ${where(context)} failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${reason}`,
    {
      cause: error,
      context,
      retryable: isConnectionError(error),
      hint: 'check that the registry is reachable (host, port, proxy) and try again',
    },
  );
}
