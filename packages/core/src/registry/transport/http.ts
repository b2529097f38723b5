/**
 * The innermost transport: undici with keep-alive pools. TLS trusts the system CAs and
 * `NODE_EXTRA_CA_CERTS` (Node's defaults) plus any `caFiles`; hosts listed in `skipVerify` (registries
 * the user marked insecure that present a certificate nobody vouches for) are reached without
 * verification, as Docker does for its `insecure-registries`.
 */
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import type { Agent } from 'undici';
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

export function httpTransport(options: HttpTransportOptions = {}): ClosableTransport {
  const timeout = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const ca = trustedCas(options.caFiles ?? [], options.env ?? process.env);
  const common = {
    headersTimeout: timeout,
    bodyTimeout: timeout,
    connections: options.connections ?? 16,
    keepAliveTimeout: 10_000,
  };
  // undici is loaded on the first request: commands that never reach a registry start faster.
  const undici = import('undici');
  let verified: Agent | undefined;
  let unverified: Agent | undefined;
  const skip = options.skipVerify ?? new Set<string>();
  const userAgent = options.userAgent ?? DEFAULT_USER_AGENT;

  const transport = async (req: HttpRequest): Promise<HttpResponse> => {
    const url = new URL(req.url);
    const { Agent, request } = await undici;
    verified ??= new Agent({ ...common, connect: ca ? { ca } : {} });
    let dispatcher = verified;
    if (url.protocol === 'https:' && skip.has(url.host)) {
      unverified ??= new Agent({ ...common, connect: { rejectUnauthorized: false } });
      dispatcher = unverified;
    }
    const body =
      req.body === undefined ? undefined : req.body instanceof Uint8Array ? req.body : await req.body();
    const headers: Record<string, string> = { 'user-agent': userAgent, ...(req.headers ?? {}) };
    if (req.body instanceof Uint8Array) headers['content-length'] = String(req.body.byteLength);
    const res = await request(url, {
      method: req.method,
      headers,
      body: body instanceof Uint8Array ? Buffer.from(body.buffer, body.byteOffset, body.byteLength) : body,
      dispatcher,
      ...(req.signal ? { signal: req.signal } : {}),
    });
    return {
      status: res.statusCode,
      headers: res.headers as Record<string, string | string[] | undefined>,
      url: url.toString(),
      body: streamBody(res.body, { deadlineMs: timeout * DOCUMENT_DEADLINE_FACTOR }),
    };
  };
  return Object.assign(transport, {
    close: async () => {
      await Promise.all([verified?.close(), unverified?.close()]);
    },
  });
}
