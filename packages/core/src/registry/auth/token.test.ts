import { describe, expect, it } from 'vitest';
import { type HttpRequest, memoryResponse, type Transport } from '../transport/types.js';
import { Authenticator, withAuth } from './authenticator.js';
import { redact } from './redact.js';
import { fetchToken, TokenCache, tokenExpiry } from './token.js';

const realm = 'https://auth.example/token';
const challenge = `Bearer realm="${realm}",service="reg"`;

/** A fake registry on https://reg.example plus its token server; counts token requests. */
function fakeRegistry(options: { expiresIn?: number; rejectToken?: string } = {}) {
  const state = { alwaysReject: false };
  const issued: string[] = [];
  const seen: HttpRequest[] = [];
  let n = 0;
  const transport: Transport = async (req) => {
    seen.push(req);
    const url = new URL(req.url);
    if (url.origin === 'https://auth.example') {
      if (req.headers?.authorization !== `Basic ${Buffer.from('u:p4ssw0rd').toString('base64')}`)
        return memoryResponse(401, {}, '{}');
      const token = `tok-${++n}-${url.searchParams.getAll('scope').join('+')}`;
      issued.push(token);
      return memoryResponse(200, {}, JSON.stringify({ token, expires_in: options.expiresIn ?? 300 }));
    }
    const auth = req.headers?.authorization;
    if (!auth?.startsWith('Bearer ') || auth === `Bearer ${options.rejectToken}` || state.alwaysReject) {
      return memoryResponse(401, { 'www-authenticate': challenge }, '{"errors":[{"code":"UNAUTHORIZED"}]}');
    }
    return memoryResponse(200, {}, 'ok');
  };
  return {
    transport,
    issued,
    seen,
    set alwaysReject(value: boolean) {
      state.alwaysReject = value;
    },
  };
}

function authed(fake: ReturnType<typeof fakeRegistry>, now = () => 1_000_000) {
  const auth = new Authenticator({
    registry: 'reg.example',
    credentials: async () => ({ username: 'u', password: 'p4ssw0rd' }),
    tokenTransport: fake.transport,
    tokens: new TokenCache(now),
    now,
  });
  return { auth, transport: withAuth(fake.transport, auth, 'https://reg.example') };
}

describe('bearer token flow', () => {
  it('answers a 401 challenge with a token for the request scope, then signs up front from the cache', async () => {
    const fake = fakeRegistry();
    const { auth, transport } = authed(fake);
    const scopes = ['repository:a/b:pull'];
    expect(
      (await transport({ method: 'GET', url: 'https://reg.example/v2/a/b/manifests/x', scopes })).status,
    ).toBe(200);
    expect(fake.issued).toEqual(['tok-1-repository:a/b:pull']);
    expect(
      (await transport({ method: 'GET', url: 'https://reg.example/v2/a/b/blobs/y', scopes })).status,
    ).toBe(200);
    expect(fake.issued).toHaveLength(1);
    // Another scope is another token.
    await transport({
      method: 'GET',
      url: 'https://reg.example/v2/c/manifests/x',
      scopes: ['repository:c:pull,push'],
    });
    expect(fake.issued).toHaveLength(2);
    expect(auth.tokenRequests).toBe(2);
  });

  it('concurrent requests for one scope share one token request', async () => {
    const fake = fakeRegistry();
    const { transport } = authed(fake);
    await transport({ method: 'GET', url: 'https://reg.example/v2/', scopes: [] }); // learn the challenge
    const scopes = ['repository:a/b:pull,push'];
    await Promise.all(
      Array.from({ length: 8 }, () =>
        transport({ method: 'HEAD', url: 'https://reg.example/v2/a/b/blobs/z', scopes }),
      ),
    );
    expect(fake.issued.filter((t) => t.includes('a/b'))).toHaveLength(1);
  });

  it('fetches a fresh token once when the registry refuses a cached one; a second 401 stands', async () => {
    const options: { rejectToken?: string } = {};
    const fake = fakeRegistry(options);
    const { transport } = authed(fake);
    const scopes = ['repository:a/b:pull'];
    const url = 'https://reg.example/v2/a/b/manifests/x';
    expect((await transport({ method: 'GET', url, scopes })).status).toBe(200);
    options.rejectToken = 'tok-1-repository:a/b:pull'; // revoked
    expect((await transport({ method: 'GET', url, scopes })).status).toBe(200);
    expect(fake.issued).toEqual(['tok-1-repository:a/b:pull', 'tok-2-repository:a/b:pull']);
    options.rejectToken = 'tok-2-repository:a/b:pull';
    fake.alwaysReject = true;
    const refused = await transport({ method: 'GET', url, scopes });
    expect(refused.status).toBe(401);
    expect(fake.issued).toHaveLength(3); // exactly one fresh token, then the 401 stands
  });

  it('refreshes tokens after they expire (90% of expires_in)', async () => {
    let now = 1_000_000;
    const fake = fakeRegistry({ expiresIn: 100 });
    const { transport } = authed(fake, () => now);
    const scopes = ['repository:a/b:pull'];
    await transport({ method: 'GET', url: 'https://reg.example/v2/a/b/manifests/x', scopes });
    now += 89_000;
    await transport({ method: 'GET', url: 'https://reg.example/v2/a/b/manifests/x', scopes });
    expect(fake.issued).toHaveLength(1);
    now += 2_000;
    await transport({ method: 'GET', url: 'https://reg.example/v2/a/b/manifests/x', scopes });
    expect(fake.issued).toHaveLength(2);
  });

  it('never signs requests to other origins (redirect targets, blob storage)', async () => {
    const fake = fakeRegistry();
    const { transport } = authed(fake);
    await transport({
      method: 'GET',
      url: 'https://reg.example/v2/a/b/manifests/x',
      scopes: ['repository:a/b:pull'],
    });
    await transport({
      method: 'GET',
      url: 'https://storage.example/blob?sig=1',
      scopes: ['repository:a/b:pull'],
    });
    expect(fake.seen.at(-1)?.headers?.authorization).toBeUndefined();
  });

  it('reports wrong credentials from the realm as REGISTRY_UNAUTHORIZED, without the password', async () => {
    const fake = fakeRegistry();
    const error = await fetchToken(
      fake.transport,
      { realm, service: 'reg', scopes: [] },
      { username: 'u', password: 'wrong-password' },
      'reg.example',
    ).catch((e: Error) => e);
    expect((error as { code?: string }).code).toBe('REGISTRY_UNAUTHORIZED');
    expect((error as Error).message).not.toContain('wrong-password');
  });

  it('tokenExpiry keeps a margin and defaults to 60 s', () => {
    expect(tokenExpiry(300, 0)).toBe(270_000);
    expect(tokenExpiry(undefined, 0)).toBe(54_000);
    expect(tokenExpiry(3, 0)).toBe(0);
  });
});

describe('redact', () => {
  it('hides Authorization values, token fields and remembered secrets', () => {
    expect(redact('authorization: Bearer abcdefghijklmnopqrstuvwxyz')).toBe('authorization: Bearer ***');
    expect(redact('{"token":"abc","expires_in":3}')).toBe('{"token":"***","expires_in":3}');
    expect(redact('https://user:pa55@host/x')).toBe('https://user:***@host/x');
    expect(redact('Basic authentication is fine')).toBe('Basic authentication is fine');
  });
});
