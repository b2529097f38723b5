import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { BODY_TIMEOUT, RegistryError } from '../errors.js';
import { withBuffering } from './buffer.js';
import { withRedirects } from './redirect.js';
import { backoffDelay, DEFAULT_RETRY_POLICY, parseRetryAfter, withRetry } from './retry.js';
import { ERROR_BODY_LIMIT, type HttpRequest, memoryResponse, streamBody, type Transport } from './types.js';

function scripted(responses: (number | Error | [number, Record<string, string>])[]) {
  const seen: HttpRequest[] = [];
  const transport: Transport = async (req) => {
    seen.push(req);
    const next = responses.shift() ?? 200;
    if (next instanceof Error) throw next;
    const [status, headers] = Array.isArray(next) ? next : [next, {}];
    return memoryResponse(status, headers, '', req.url);
  };
  return { transport, seen };
}

const reset = () => Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });

describe('retry policy', () => {
  it('backs off exponentially with equal jitter, capped', () => {
    const policy = { ...DEFAULT_RETRY_POLICY, baseDelayMs: 100, maxDelayMs: 1_000, random: () => 0 };
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffDelay(policy, a))).toEqual([50, 100, 200, 400, 500, 500]);
    const high = { ...policy, random: () => 0.999999 };
    expect(backoffDelay(high, 3)).toBe(400);
  });

  it('honours Retry-After (seconds or HTTP date), capped at maxRetryAfterMs', () => {
    expect(parseRetryAfter('3')).toBe(3_000);
    expect(
      parseRetryAfter('Wed, 21 Oct 2015 07:28:05 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT')),
    ).toBe(5_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    const policy = { ...DEFAULT_RETRY_POLICY, random: () => 0, maxRetryAfterMs: 10_000 };
    expect(backoffDelay(policy, 1, 3_000)).toBe(3_000);
    expect(backoffDelay(policy, 1, 3_600_000)).toBe(10_000);
  });

  it('retries 429/502/503/504 and connection errors, then returns the last response', async () => {
    const waits: number[] = [];
    const { transport, seen } = scripted([[429, { 'retry-after': '2' }], 503, reset(), 504, 502]);
    const res = await withRetry(transport, {
      attempts: 5,
      sleep: async (ms) => void waits.push(ms),
      random: () => 0,
    })({
      method: 'GET',
      url: 'https://r/v2/',
    });
    expect(res.status).toBe(502);
    expect(seen).toHaveLength(5);
    expect(waits[0]).toBe(2_000);
  });

  it('does not retry 4xx, non-network errors, or requests marked retry: false', async () => {
    const a = scripted([404]);
    expect(
      (await withRetry(a.transport, { sleep: async () => {} })({ method: 'GET', url: 'https://r/' })).status,
    ).toBe(404);
    expect(a.seen).toHaveLength(1);
    const b = scripted([new Error('boom')]);
    await expect(
      withRetry(b.transport, { sleep: async () => {} })({ method: 'GET', url: 'https://r/' }),
    ).rejects.toThrow('boom');
    const c = scripted([503]);
    expect(
      (
        await withRetry(c.transport, { sleep: async () => {} })({
          method: 'PATCH',
          url: 'https://r/',
          retry: false,
        })
      ).status,
    ).toBe(503);
    expect(c.seen).toHaveLength(1);
  });

  it('replays body factories on each attempt', async () => {
    const { transport } = scripted([reset(), 201]);
    let opened = 0;
    const res = await withRetry(transport, { sleep: async () => {} })({
      method: 'PUT',
      url: 'https://r/',
      body: async () => {
        opened++;
        const { Readable } = await import('node:stream');
        return Readable.from([Buffer.from('x')]);
      },
    });
    expect(res.status).toBe(201);
    // The fake transport does not open bodies; the real one calls the factory per attempt.
    expect(opened).toBe(0);
  });
});

describe('redirects', () => {
  it('follows a blob redirect to storage without the Authorization header', async () => {
    const { transport, seen } = scripted([[307, { location: 'https://storage.example/b?sig=abc' }], 200]);
    const res = await withRedirects(transport)({
      method: 'GET',
      url: 'https://reg.example/v2/a/blobs/sha256:x',
      headers: { authorization: 'Bearer secret', accept: '*/*' },
    });
    expect(res.status).toBe(200);
    expect(seen[1]?.url).toBe('https://storage.example/b?sig=abc');
    expect(seen[1]?.headers?.authorization).toBeUndefined();
    expect(seen[1]?.headers?.accept).toBe('*/*');
  });

  it('keeps Authorization on same-origin redirects and resolves relative Locations', async () => {
    const { transport, seen } = scripted([[302, { location: '/v2/other' }], 200]);
    await withRedirects(transport)({
      method: 'GET',
      url: 'https://reg.example/v2/a',
      headers: { authorization: 'Basic x' },
    });
    expect(seen[1]?.url).toBe('https://reg.example/v2/other');
    expect(seen[1]?.headers?.authorization).toBe('Basic x');
  });

  it('does not treat 201/202 Location headers as redirects, and stops redirect loops', async () => {
    const a = scripted([[202, { location: '/v2/a/blobs/uploads/1' }]]);
    expect(
      (await withRedirects(a.transport)({ method: 'POST', url: 'https://r/v2/a/blobs/uploads/' })).status,
    ).toBe(202);
    const loop = scripted(
      Array.from({ length: 20 }, () => [301, { location: '/again' }] as [number, Record<string, string>]),
    );
    await expect(
      withRedirects(loop.transport, 3)({ method: 'GET', url: 'https://r/x' }),
    ).rejects.toBeInstanceOf(RegistryError);
  });
});

describe('redirect loops', () => {
  it('ends a loop at the first repeated Location and names it (credentials redacted)', async () => {
    const loop = scripted(
      Array.from(
        { length: 20 },
        (_, i) => [302, { location: i % 2 ? '/a' : '/b' }] as [number, Record<string, string>],
      ),
    );
    const error = await withRedirects(loop.transport)({ method: 'GET', url: 'https://u:pw-1234@r/a' }).catch(
      (e: RegistryError) => e,
    );
    expect((error as RegistryError).message).toMatch(/a redirect loop \(back to https:\/\/u:\*\*\*@r\/a\)/);
    expect(loop.seen.length).toBe(2);
  });
});

/** A stream that never ends: `chunk` every `everyMs` (0: as fast as it is read). */
function endless(chunk: Buffer, everyMs = 0): Readable {
  return new Readable({
    read() {
      if (everyMs === 0) this.push(chunk);
      else setTimeout(() => this.push(chunk), everyMs);
    },
  });
}

describe('bounded bodies', () => {
  it('bytes() fails past its limit, naming it; head() cuts; dump() stops', async () => {
    const big = endless(Buffer.alloc(64 * 1024, 1));
    await expect(streamBody(big).bytes(4 * 1024 * 1024, 'manifest x')).rejects.toThrow(
      'manifest x is larger than 4 MiB: rejected',
    );
    expect(big.destroyed).toBe(true);
    const error = endless(Buffer.alloc(1000, 2));
    expect((await streamBody(error).head(ERROR_BODY_LIMIT)).byteLength).toBe(ERROR_BODY_LIMIT);
    expect(error.destroyed).toBe(true);
    const rest = endless(Buffer.alloc(1000, 3));
    await streamBody(rest).dump();
    expect(rest.destroyed).toBe(true);
  });

  it('a document that trickles in fails at the deadline (an idle timeout alone never fires)', async () => {
    const started = Date.now();
    const trickle = endless(Buffer.from('x'), 20);
    const error = await streamBody(trickle, { deadlineMs: 300 })
      .text(1024 * 1024, 'the token response')
      .catch((e: RegistryError) => e);
    expect((error as RegistryError).message).toMatch(/the token response did not arrive within 0.3 s/);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('withBuffering reads documents inside the attempt, so a broken body is retried', async () => {
    let attempt = 0;
    const inner: Transport = async (req) => {
      attempt++;
      if (attempt === 1) {
        const broken = new Readable({
          read() {
            this.destroy(Object.assign(new Error('no body data for 30 s'), { code: BODY_TIMEOUT }));
          },
        });
        return { status: 200, headers: {}, url: req.url, body: streamBody(broken) };
      }
      return memoryResponse(200, {}, '{"ok":true}', req.url);
    };
    const transport = withRetry(withBuffering(inner), { sleep: async () => {} });
    const res = await transport({ method: 'GET', url: 'https://r/m', buffer: { limit: 100, what: 'm' } });
    expect(await res.body.text(100)).toBe('{"ok":true}');
    expect(attempt).toBe(2);
  });

  it('withBuffering refuses a Content-Length above the limit before reading, and caps error bodies', async () => {
    const body = endless(Buffer.alloc(1024));
    const inner: Transport = async (req) => ({
      status: 200,
      headers: { 'content-length': String(10 * 1024 * 1024) },
      url: req.url,
      body: streamBody(body),
    });
    await expect(
      withBuffering(inner)({
        method: 'GET',
        url: 'https://r/m',
        buffer: { limit: 1024, what: 'manifest m' },
      }),
    ).rejects.toMatchObject({ code: 'REGISTRY_TOO_LARGE' });
    expect(body.destroyed).toBe(true);
    const notFound: Transport = async (req) => ({
      status: 404,
      headers: {},
      url: req.url,
      body: streamBody(endless(Buffer.alloc(4096, 0x61))),
    });
    const res = await withBuffering(notFound)({
      method: 'GET',
      url: 'https://r/m',
      buffer: { limit: 1024, what: 'manifest m' },
    });
    expect((await res.body.bytes(ERROR_BODY_LIMIT)).byteLength).toBe(ERROR_BODY_LIMIT);
  });
});
