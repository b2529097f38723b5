// A loopback HTTP proxy in front of a registry that misbehaves on purpose: it drops connections in the
// middle of request bodies, answers 500/503/429 (with Retry-After), stalls, cuts or corrupts response
// bodies, and can throttle uploads and downloads. Like nginx's default (`proxy_request_buffering on`), it reads a
// request body completely before forwarding it, so a client that dies mid-body leaves the registry
// untouched. The Host header is kept, so the registry's Location URLs point back at the proxy.
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';
import { freePort } from './registry.js';

export type Fault =
  | 'pass'
  /** Close the client connection after reading part of the request body; nothing reaches the registry. */
  | 'drop-request'
  /** Forward half the request body to the registry, then cut both connections (the registry keeps a partial chunk). */
  | 'cut-upstream'
  | 'status-500'
  | 'status-503'
  /** 429 with `Retry-After: <retryAfterS>`. */
  | 'status-429'
  /** Hold the request without answering for `stallMs`, then close. */
  | 'stall'
  /** Forward, then close the connection halfway through the response body. */
  | 'cut-response'
  /** Forward and let the registry answer, then close the client's connection: the request took effect, its answer is lost. */
  | 'lose-response'
  /** Forward, flipping one byte in the response body (blob GETs). */
  | 'corrupt-response';

export interface FaultContext {
  readonly method: string;
  readonly url: string;
  /** Request body length (Content-Length, 0 if none). */
  readonly length: number;
  /** 1-based count of requests seen. */
  readonly n: number;
}

export interface FaultProxyOptions {
  /** `http://127.0.0.1:PORT` of the registry. */
  readonly upstream: string;
  /** Picks the fault for each request. Default: always 'pass'. */
  decide?: (request: FaultContext) => Fault;
  readonly stallMs?: number;
  readonly retryAfterS?: number;
  /** Upload rate limit in bytes per second for request bodies (a slow uplink). */
  uploadBytesPerSecond?: number;
  /** Download rate limit in bytes per second for response bodies that pass (a slow downlink). */
  downloadBytesPerSecond?: number;
}

export interface FaultProxy {
  readonly host: string;
  readonly url: string;
  /** How many times each fault was applied. */
  readonly counts: Record<Fault, number>;
  /** Request-body bytes forwarded to the registry, by method. */
  readonly forwardedBytes: Record<string, number>;
  /** Every request seen: method, path (without query) and the fault applied. */
  readonly log: { method: string; path: string; fault: Fault }[];
  readonly options: FaultProxyOptions;
  stop(): Promise<void>;
}

/** A seeded PRNG (mulberry32), so a fault schedule is reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `bytes` sent since `started` are no faster than `rate` bytes per second. */
async function paced(started: number, bytes: number, rate: number): Promise<void> {
  const wait = started + (bytes / rate) * 1000 - Date.now();
  if (wait > 0) await sleep(wait);
}

/** Reads the request body, throttled; resolves undefined if `dropAfter` bytes arrive first (then the socket is destroyed). */
async function readBody(
  req: IncomingMessage,
  options: FaultProxyOptions,
  dropAfter?: number,
): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let have = 0;
  const started = Date.now();
  for await (const chunk of req) {
    chunks.push(chunk as Buffer);
    have += (chunk as Buffer).byteLength;
    if (dropAfter !== undefined && have >= dropAfter) {
      req.socket.destroy();
      return undefined;
    }
    if (options.uploadBytesPerSecond) await paced(started, have, options.uploadBytesPerSecond);
  }
  return Buffer.concat(chunks);
}

/** Copies a response body at `rate` bytes per second, in pieces of at most 64 KiB. */
async function throttle(from: IncomingMessage, to: ServerResponse, rate: number): Promise<void> {
  const started = Date.now();
  let sent = 0;
  for await (const chunk of from) {
    for (let at = 0; at < (chunk as Buffer).byteLength; at += 64 * 1024) {
      const piece = (chunk as Buffer).subarray(at, at + 64 * 1024);
      if (to.destroyed) return;
      if (!to.write(piece)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            to.off('drain', done).off('close', done);
            resolve();
          };
          to.on('drain', done).on('close', done);
        });
      }
      sent += piece.byteLength;
      await paced(started, sent, rate);
    }
  }
  to.end();
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const upstream = new URL(options.upstream);
  const counts = {
    pass: 0,
    'drop-request': 0,
    'cut-upstream': 0,
    'status-500': 0,
    'status-503': 0,
    'status-429': 0,
    stall: 0,
    'cut-response': 0,
    'lose-response': 0,
    'corrupt-response': 0,
  } satisfies Record<Fault, number>;
  const forwardedBytes: Record<string, number> = {};
  const log: FaultProxy['log'] = [];
  const sockets = new Set<Socket>();
  let n = 0;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const length = Number(req.headers['content-length'] ?? 0);
    const context: FaultContext = { method: req.method ?? 'GET', url: req.url ?? '/', length, n: ++n };
    let fault = options.decide?.(context) ?? 'pass';
    // Faults that need a body (or a response body) fall back to a status fault elsewhere.
    if ((fault === 'drop-request' || fault === 'cut-upstream') && length < 2) fault = 'status-503';
    counts[fault]++;
    log.push({ method: context.method, path: context.url.split('?')[0] ?? '', fault });

    const body = await readBody(req, options, fault === 'drop-request' ? Math.floor(length / 2) : undefined);
    if (body === undefined) return; // dropped mid-body
    switch (fault) {
      case 'status-500':
      case 'status-503':
      case 'status-429': {
        const status = Number(fault.slice(-3));
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (status === 429) headers['retry-after'] = String(options.retryAfterS ?? 1);
        const code = status === 429 ? 'TOOMANYREQUESTS' : 'UNAVAILABLE';
        res
          .writeHead(status, headers)
          .end(JSON.stringify({ errors: [{ code, message: `injected ${status}` }] }));
        return;
      }
      case 'stall':
        await sleep(options.stallMs ?? 5_000);
        req.socket.destroy();
        return;
      default:
        break;
    }

    const headers = { ...req.headers };
    delete headers.connection;
    const up = httpRequest({
      host: upstream.hostname,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers,
    });
    up.on('error', () => {
      req.socket.destroy();
    });
    if (fault === 'cut-upstream') {
      up.write(body.subarray(0, Math.floor(body.byteLength / 2)));
      forwardedBytes[context.method] =
        (forwardedBytes[context.method] ?? 0) + Math.floor(body.byteLength / 2);
      await sleep(100);
      up.destroy();
      req.socket.destroy();
      return;
    }
    forwardedBytes[context.method] = (forwardedBytes[context.method] ?? 0) + body.byteLength;
    up.end(body);
    up.on('response', (upRes) => {
      if (fault === 'lose-response') {
        upRes.resume();
        upRes.on('end', () => req.socket.destroy());
        return;
      }
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      const total = Number(upRes.headers['content-length'] ?? 0);
      if (fault === 'cut-response' && total > 1) {
        let sent = 0;
        upRes.on('data', (chunk: Buffer) => {
          const room = Math.floor(total / 2) - sent;
          if (room <= 0) return;
          res.write(chunk.subarray(0, room));
          sent += Math.min(room, chunk.byteLength);
          if (sent >= Math.floor(total / 2)) {
            upRes.destroy();
            req.socket.destroy();
          }
        });
        return;
      }
      if (fault === 'corrupt-response') {
        let flipped = false;
        upRes.on('data', (chunk: Buffer) => {
          if (!flipped && chunk.byteLength > 0) {
            const copy = Buffer.from(chunk);
            copy[copy.byteLength >> 1] = (copy[copy.byteLength >> 1] as number) ^ 0xff;
            flipped = true;
            res.write(copy);
          } else res.write(chunk);
        });
        upRes.on('end', () => res.end());
        return;
      }
      if (options.downloadBytesPerSecond) {
        void throttle(upRes, res, options.downloadBytesPerSecond).catch(() => req.socket.destroy());
        return;
      }
      upRes.pipe(res);
    });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => req.socket.destroy());
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    counts,
    forwardedBytes,
    log,
    options,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
