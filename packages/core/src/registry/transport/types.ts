/**
 * The registry client's HTTP layer, in the shape of go-containerregistry's `http.RoundTripper` chain:
 * a {@link Transport} is one function from request to response, and auth, retries, redirects and the
 * user agent are wrappers around it (`withRetry(withRedirects(withAuth(httpTransport())))`). Each
 * wrapper is small and tested alone with a fake transport.
 */
import { Readable } from 'node:stream';
import { RegistryError } from '../errors.js';

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A request body: bytes (replayable) or a function that opens a fresh stream for each attempt. */
export type RequestBody = Uint8Array | (() => Promise<Readable>);

export interface HttpRequest {
  readonly method: HttpMethod;
  readonly url: string;
  /** Lowercase header names. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: RequestBody;
  /** Token scopes this request needs (`repository:library/node:pull`); read by the auth wrapper. */
  readonly scopes?: readonly string[];
  /**
   * False: never re-send automatically (chunk uploads: the server may have kept part of the body, so
   * the caller asks for the upload's status and resumes instead).
   */
  readonly retry?: boolean;
  /**
   * A document (manifest, token): the whole body is read inside the retry loop, so a stalled body is
   * tried again like a dropped connection. More than `limit` bytes fails (`what` names it).
   */
  readonly buffer?: { readonly limit: number; readonly what: string };
  readonly signal?: AbortSignal;
}

export interface HttpResponse {
  readonly status: number;
  /** Lowercase header names. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The URL that answered (after redirects). */
  readonly url: string;
  readonly body: ResponseBody;
}

/** A response body, read once. Every read is bounded: nothing a registry sends can grow without limit. */
export interface ResponseBody {
  /**
   * The whole body, for documents (manifests, tokens): fails with `REGISTRY_TOO_LARGE` past `limit`
   * bytes, and when it does not arrive within the transport's document deadline.
   */
  bytes(limit: number, what?: string): Promise<Uint8Array>;
  text(limit: number, what?: string): Promise<string>;
  /** At most the first `limit` bytes (error bodies): the rest is never read and the connection closes. */
  head(limit: number): Promise<Uint8Array>;
  /** The raw stream (for blobs; the caller bounds it). */
  stream(): Readable;
  /** Reads and discards a short rest (≤ 64 KiB) so the connection can be reused; a longer one is cut. */
  dump(): Promise<void>;
}

export type Transport = (request: HttpRequest) => Promise<HttpResponse>;

/** A header's first value. */
export function header(response: HttpResponse, name: string): string | undefined {
  const value = response.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** All values of a header (repeated headers, not comma-split). */
export function headerValues(response: HttpResponse, name: string): string[] {
  const value = response.headers[name.toLowerCase()];
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/** Bytes of a response body read to be discarded (and of error bodies kept for their message). */
export const ERROR_BODY_LIMIT = 64 * 1024;

/** `4194304` → `4 MiB`: limits as the error messages name them. */
export function formatLimit(bytes: number): string {
  if (bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}

/** Closes a body wharf will not read (its connection is not reused); the abort is not an error to anyone. */
export function abandon(stream: Readable): void {
  stream.on('error', () => {});
  stream.destroy();
}

/** The error for a response (or blob) that is longer than wharf reads. */
export function tooLarge(what: string, limit: number): RegistryError {
  return new RegistryError('REGISTRY_TOO_LARGE', `${what} is larger than ${formatLimit(limit)}: rejected`, {
    hint: 'the registry (or a proxy in front of it) sends more than the protocol allows; report it to its operator',
  });
}

export interface StreamBodyOptions {
  /** The longest a whole `bytes`/`text`/`head`/`dump` read may take (blob streams have none). */
  readonly deadlineMs?: number;
}

/**
 * Reads `stream` up to `limit` bytes: past it, either cut (`truncate`) or fail with REGISTRY_TOO_LARGE.
 * A read that outlasts `deadlineMs` fails too: an idle timeout alone lets a registry trickle one byte
 * at a time for ever.
 */
async function collect(
  stream: Readable,
  limit: number,
  what: string,
  truncate: boolean,
  deadlineMs: number | undefined,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  const timer =
    deadlineMs === undefined
      ? undefined
      : setTimeout(() => {
          stream.destroy(
            new RegistryError(
              'REGISTRY_UNAVAILABLE',
              `${what} did not arrive within ${deadlineMs / 1000} s: the registry sends too slowly`,
              {
                hint: 'check the registry and the network; for a slow link raise WHARF_REGISTRY_TIMEOUT (seconds; a document may take 4 times it)',
              },
            ),
          );
        }, deadlineMs);
  try {
    for await (const chunk of stream) {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      if (size + buffer.byteLength > limit) {
        abandon(stream); // the rest is never read: the connection is not reused
        if (!truncate) throw tooLarge(what, limit);
        chunks.push(buffer.subarray(0, limit - size));
        size = limit;
        break;
      }
      chunks.push(buffer);
      size += buffer.byteLength;
    }
  } finally {
    if (timer) clearTimeout(timer);
  }
  return Buffer.concat(chunks, size);
}

/** A body over a Node stream. */
export function streamBody(stream: Readable, options: StreamBodyOptions = {}): ResponseBody {
  const deadline = options.deadlineMs;
  return {
    text: async (limit, what = 'the response') =>
      (await collect(stream, limit, what, false, deadline)).toString('utf8'),
    bytes: async (limit, what = 'the response') =>
      new Uint8Array(await collect(stream, limit, what, false, deadline)),
    head: async (limit) => new Uint8Array(await collect(stream, limit, 'the response', true, deadline)),
    stream: () => stream,
    dump: async () => {
      try {
        await collect(stream, ERROR_BODY_LIMIT, 'the response', true, deadline);
      } catch {
        // a broken body is as good as a dumped one
      }
    },
  };
}

/** A body over bytes in memory (tests, buffered error bodies). */
export function bytesBody(bytes: Uint8Array | string): ResponseBody {
  const buffer = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : Buffer.from(bytes);
  return streamBody(Readable.from(buffer.byteLength ? [buffer] : []));
}

/** A response built in memory (tests, and wrappers that have read a body and hand it on). */
export function memoryResponse(
  status: number,
  headers: Record<string, string | string[]> = {},
  body: Uint8Array | string = '',
  url = '',
): HttpResponse {
  const lower: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) lower[k.toLowerCase()] = v;
  return { status, headers: lower, url, body: bytesBody(body) };
}

/** `scheme://host[:port]` of a URL. */
export function originOf(url: string): string {
  return new URL(url).origin;
}

/** A copy of `request` with headers added (or removed, with `undefined`). */
export function withHeaders(
  request: HttpRequest,
  headers: Readonly<Record<string, string | undefined>>,
): HttpRequest {
  const merged: Record<string, string> = { ...(request.headers ?? {}) };
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) delete merged[k.toLowerCase()];
    else merged[k.toLowerCase()] = v;
  }
  return { ...request, headers: merged };
}
