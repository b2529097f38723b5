/**
 * The registry client's HTTP layer, in the shape of go-containerregistry's `http.RoundTripper` chain:
 * a {@link Transport} is one function from request to response, and auth, retries, redirects and the
 * user agent are wrappers around it (`withRetry(withRedirects(withAuth(httpTransport())))`). Each
 * wrapper is small and tested alone with a fake transport.
 */
import { Readable } from 'node:stream';

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

/** A response body, read once. */
export interface ResponseBody {
  text(): Promise<string>;
  bytes(): Promise<Uint8Array>;
  /** The raw stream (for blobs). */
  stream(): Readable;
  /** Reads and discards the rest, so the connection can be reused. */
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

/** A body over a Node stream. */
export function streamBody(stream: Readable): ResponseBody {
  const collect = async (): Promise<Buffer> => {
    const chunks: Buffer[] = [];
    for await (const chunk of stream)
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
    return Buffer.concat(chunks);
  };
  return {
    text: async () => (await collect()).toString('utf8'),
    bytes: async () => new Uint8Array(await collect()),
    stream: () => stream,
    dump: async () => {
      try {
        for await (const _ of stream) {
          // discard
        }
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
