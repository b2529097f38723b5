// The innermost transport (Node's http) against scripted loopback servers: the idle timeout covers a
// server that never answers, unread HEAD responses give their connection back, repeated headers stay
// lists, and a request body that breaks its Content-Length fails instead of leaving the server waiting.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { HEADERS_TIMEOUT } from '../errors.js';
import { type ClosableTransport, httpTransport } from './http.js';

const servers: Server[] = [];
const transports: ClosableTransport[] = [];
afterEach(async () => {
  await Promise.all(transports.splice(0).map((t) => t.close()));
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r).closeAllConnections())));
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function transport(options: Parameters<typeof httpTransport>[0] = {}): ClosableTransport {
  const t = httpTransport({ env: {}, ...options });
  transports.push(t);
  return t;
}

describe('httpTransport', () => {
  it('fails a request whose server never answers after the idle timeout, naming it', async () => {
    const origin = await serve(() => {}); // reads the request, never answers
    const started = Date.now();
    const error = await transport({ timeoutMs: 300 })({ method: 'GET', url: `${origin}/v2/` }).then(
      () => undefined,
      (e: NodeJS.ErrnoException) => e,
    );
    expect(error?.code).toBe(HEADERS_TIMEOUT);
    expect(error?.message).toBe('no response for 0.3 s');
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('gives an unread HEAD response its connection back (one connection serves many)', async () => {
    const sockets = new Set<unknown>();
    const origin = await serve((req, res) => {
      sockets.add(req.socket);
      res.setHeader('content-length', '43521834');
      res.end();
    });
    const send = transport({ connections: 1 });
    for (let i = 0; i < 5; i++) {
      const res = await send({ method: 'HEAD', url: `${origin}/v2/r/blobs/sha256:x` });
      expect(res.status).toBe(200);
    }
    expect(sockets.size).toBe(1);
  });

  it('gives a header sent once as a string and one sent twice as a list', async () => {
    const origin = await serve((_req, res) => {
      res.setHeader('www-authenticate', ['Bearer realm="https://a.example/token"', 'Basic realm="r"']);
      res.setHeader('docker-content-digest', 'sha256:abc');
      res.end('{}');
    });
    const res = await transport()({ method: 'GET', url: `${origin}/v2/` });
    expect(res.headers['www-authenticate']).toEqual([
      'Bearer realm="https://a.example/token"',
      'Basic realm="r"',
    ]);
    expect(res.headers['docker-content-digest']).toBe('sha256:abc');
    expect(await res.body.text(100)).toBe('{}');
  });

  it('fails a streamed body shorter than its Content-Length instead of leaving the server waiting', async () => {
    const origin = await serve((req, res) => {
      req.resume();
      req.on('end', () => res.end());
    });
    const started = Date.now();
    const error = await transport({ timeoutMs: 10_000 })({
      method: 'PUT',
      url: `${origin}/v2/r/blobs/uploads/1`,
      headers: { 'content-length': '10' },
      body: async () => Readable.from([Buffer.from('short')]),
    }).then(
      () => undefined,
      (e: NodeJS.ErrnoException) => e,
    );
    expect(error?.code).toBe('ERR_HTTP_CONTENT_LENGTH_MISMATCH');
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
