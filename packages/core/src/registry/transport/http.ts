/**
 * The innermost transport: Node's own `http`/`https` with keep-alive agents (at most `connections`
 * sockets per origin; idle ones close after 10 s and never keep the process alive). TLS trusts the
 * system CAs and `NODE_EXTRA_CA_CERTS` (Node's defaults) plus any `caFiles`; hosts listed in
 * `skipVerify` (registries the user marked insecure that present a certificate nobody vouches for) are
 * reached without verification, as Docker does for its `insecure-registries`.
 *
 * Why not undici (which this was): loading it took about 0.2 s of CPU at a command's first registry
 * request (its fetch, WebSocket, cache and mock modules come with it) and its HTTP parser runs as
 * WebAssembly; Node's parser is native. Everything the client needs is here: streaming bodies both
 * ways, an idle timeout on headers and on body gaps, TLS options per agent, abort signals.
 */

import { readFileSync } from 'node:fs';
import type { ClientRequest, Agent as HttpAgent, IncomingMessage, RequestOptions } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import { createRequire } from 'node:module';
import { type Readable, Transform } from 'node:stream';
import { rootCertificates } from 'node:tls';
import { BODY_TIMEOUT, HEADERS_TIMEOUT } from '../errors.js';
import { type HttpRequest, type HttpResponse, streamBody, type Transport } from './types.js';

export interface HttpTransportOptions {
  /** Extra PEM CA files to trust, besides the system CAs and NODE_EXTRA_CA_CERTS. */
  readonly caFiles?: readonly string[];
  /** `host[:port]`s reached over HTTPS without certificate verification (explicitly insecure registries). */
  readonly skipVerify?: ReadonlySet<string>;
  readonly userAgent?: string;
  /**
   * Time to wait for response headers, and between body chunks (the idle timeout). Default 30 s. A
   * document read whole (`bytes`, `text`) must arrive within 4 times it.
   */
  readonly timeoutMs?: number;
  /** Connections per origin. Default 16. */
  readonly connections?: number;
  readonly env?: NodeJS.ProcessEnv;
}

/** A transport with a `close()` that ends its connection pools. */
export interface ClosableTransport extends Transport {
  close(): Promise<void>;
}

function trustedCas(caFiles: readonly string[], env: NodeJS.ProcessEnv): string[] | undefined {
  if (caFiles.length === 0) return undefined; // Node's default store already has NODE_EXTRA_CA_CERTS
  const extra = env.NODE_EXTRA_CA_CERTS ? [safeRead(env.NODE_EXTRA_CA_CERTS)] : [];
  return [
    ...rootCertificates,
    ...extra.filter((x): x is string => x !== undefined),
    ...caFiles.map((f) => readFileSync(f, 'utf8')),
  ];
}

function safeRead(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** The idle timeout when neither the option nor `WHARF_REGISTRY_TIMEOUT` sets one. */
export const DEFAULT_TIMEOUT_MS = 30_000;

/** How many idle timeouts a whole document (manifest, token, error body) may take. */
export const DOCUMENT_DEADLINE_FACTOR = 4;

export const DEFAULT_USER_AGENT = 'wharf/0.1 (+https://github.com/wharf)';

/** A request function and the agent (connection pool) it sends through. */
interface Route {
  readonly request: typeof import('node:http').request;
  readonly agent: HttpAgent;
}

/**
 * `node:http`/`node:https`, required at the first request: commands that never reach a registry do
 * not load them (an import() would work in the ES module but not in the bundle, which allows only its
 * dependencies there).
 */
const load = <T>(id: string): T => createRequire(import.meta.url)(id) as T;

/** How long an idle pooled connection is kept for the next request. */
const KEEP_ALIVE_MS = 10_000;

export function httpTransport(options: HttpTransportOptions = {}): ClosableTransport {
  const timeout = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const ca = trustedCas(options.caFiles ?? [], options.env ?? process.env);
  const common = { keepAlive: true, maxSockets: options.connections ?? 16, timeout: KEEP_ALIVE_MS };
  let plain: Route | undefined;
  let secure:
    | { https: typeof import('node:https'); verified: HttpsAgent; unverified?: HttpsAgent }
    | undefined;
  const agents: (HttpAgent | HttpsAgent)[] = [];
  const skip = options.skipVerify ?? new Set<string>();
  const userAgent = options.userAgent ?? DEFAULT_USER_AGENT;

  const route = (url: URL): Route => {
    if (url.protocol === 'http:') {
      if (!plain) {
        const http = load<typeof import('node:http')>('node:http');
        plain = { request: http.request, agent: new http.Agent(common) };
        agents.push(plain.agent);
      }
      return plain;
    }
    if (url.protocol !== 'https:') throw new Error(`unsupported URL scheme ${url.protocol}`);
    if (!secure) {
      const https = load<typeof import('node:https')>('node:https');
      secure = { https, verified: new https.Agent({ ...common, ...(ca ? { ca } : {}) }) };
      agents.push(secure.verified);
    }
    if (!skip.has(url.host)) return { request: secure.https.request, agent: secure.verified };
    if (!secure.unverified) {
      secure.unverified = new secure.https.Agent({ ...common, rejectUnauthorized: false });
      agents.push(secure.unverified);
    }
    return { request: secure.https.request, agent: secure.unverified };
  };

  const transport = async (req: HttpRequest): Promise<HttpResponse> => {
    const url = new URL(req.url);
    const body =
      req.body === undefined ? undefined : req.body instanceof Uint8Array ? req.body : await req.body();
    const headers: Record<string, string> = { 'user-agent': userAgent, ...(req.headers ?? {}) };
    if (req.body instanceof Uint8Array) headers['content-length'] = String(req.body.byteLength);
    const res = await exchange(route(url), url, {
      method: req.method,
      headers,
      body,
      timeoutMs: timeout,
      ...(req.signal ? { signal: req.signal } : {}),
    });
    return {
      status: res.statusCode ?? 0,
      headers: responseHeaders(res),
      url: url.toString(),
      body: streamBody(res, { deadlineMs: timeout * DOCUMENT_DEADLINE_FACTOR }),
    };
  };
  return Object.assign(transport, {
    // Graceful, as undici's close() was: idle connections close now, requests in flight (a blob
    // still being read) finish, then their connections close instead of returning to the pool.
    close: async () => {
      for (const agent of agents.splice(0)) {
        (agent as HttpAgent & { keepAlive: boolean }).keepAlive = false;
        for (const sockets of Object.values(agent.freeSockets)) for (const s of sockets ?? []) s.destroy();
      }
    },
  });
}

/** One request as {@link exchange} sends it. */
interface Exchange {
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array | Readable | undefined;
  /** The idle timeout: connecting, waiting for headers, and every gap in the body. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

/** Sends one request and resolves with its response once the headers are in. */
function exchange({ request, agent }: Route, url: URL, x: Exchange): Promise<IncomingMessage> {
  const { method, headers, body, timeoutMs } = x;
  const options: RequestOptions = {
    method,
    headers,
    agent,
    timeout: timeoutMs,
    ...(x.signal ? { signal: x.signal } : {}),
  };
  return new Promise((resolve, reject) => {
    let response: IncomingMessage | undefined;
    const req: ClientRequest = request(url, options, (res) => {
      response = res;
      // A HEAD response has no body: let it end, so its socket goes back to the pool even if unread.
      if (method === 'HEAD') res.resume();
      resolve(res);
    });
    // After the response, errors reach whoever reads its body; before it, they fail the request.
    req.on('error', reject);
    req.on('timeout', () => {
      if (response === undefined) req.destroy(timeoutError(HEADERS_TIMEOUT, timeoutMs));
      else if (!response.complete) response.destroy(timeoutError(BODY_TIMEOUT, timeoutMs));
    });
    if (body === undefined) req.end();
    else if (body instanceof Uint8Array) req.end(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
    else {
      const declared = headers['content-length'];
      const source = declared === undefined ? body : body.pipe(lengthCheck(Number(declared)));
      // not pipeline(): it would abort the request with its own "socket hang up" before the cause
      const fail = (error: Error) => req.destroy(error);
      body.once('error', fail);
      source.once('error', fail);
      source.pipe(req);
      // a request that ends early (an error, a timeout, an early answer) closes what it was reading
      req.once('close', () => {
        body.destroy();
        source.destroy();
      });
    }
  });
}

/**
 * Passes a body through, failing it when it is longer or shorter than its Content-Length: a short
 * one would leave the server waiting for the rest until the idle timeout.
 */
function lengthCheck(declared: number): Transform {
  let sent = 0;
  const mismatch = () =>
    Object.assign(new Error(`the request body is not the ${declared} bytes its Content-Length says`), {
      code: 'ERR_HTTP_CONTENT_LENGTH_MISMATCH',
    });
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      sent += chunk.byteLength;
      done(sent > declared ? mismatch() : null, chunk);
    },
    flush(done) {
      done(sent === declared ? null : mismatch());
    },
  });
}

function timeoutError(code: typeof HEADERS_TIMEOUT | typeof BODY_TIMEOUT, ms: number): Error {
  const what = code === HEADERS_TIMEOUT ? 'no response' : 'no body data';
  return Object.assign(new Error(`${what} for ${ms / 1000} s`), { code });
}

/** Lower-case names; a header sent once is a string, one sent several times a list (as undici gave them). */
function responseHeaders(res: IncomingMessage): Record<string, string | string[] | undefined> {
  const out: Record<string, string | string[] | undefined> = {};
  for (const [name, values] of Object.entries(res.headersDistinct)) {
    if (values) out[name] = values.length === 1 ? values[0] : values;
  }
  return out;
}
