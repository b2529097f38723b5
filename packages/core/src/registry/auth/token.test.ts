import { describe, expect, it } from 'vitest';
import type { RegistryError } from '../errors.js';
import { type HttpRequest, memoryResponse, type Transport } from '../transport/types.js';
import { Authenticator, mayReceiveCredentials, withAuth } from './authenticator.js';
import { redact, redactUrl } from './redact.js';
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

  it('never sends credentials to a plain-HTTP realm on another host: asks anonymously, or fails clearly', async () => {
    for (const anonymousAllowed of [true, false]) {
      const seen: HttpRequest[] = [];
      const foreign = 'http://127.0.0.2:5708/token';
      const transport: Transport = async (req) => {
        seen.push(req);
        if (req.url.startsWith('http://127.0.0.2:5708/')) {
          return anonymousAllowed || req.headers?.authorization
            ? memoryResponse(200, {}, '{"token":"anon-token-1"}')
            : memoryResponse(401, {}, '{}');
        }
        return memoryResponse(req.headers?.authorization ? 200 : 401, {
          'www-authenticate': `Bearer realm="${foreign}",service="reg"`,
        });
      };
      const auth = new Authenticator({
        registry: '127.0.0.1:5000',
        credentials: async () => ({ username: 'u', password: 'p4ssw0rd-foreign' }),
        tokenTransport: transport,
      });
      const signed = withAuth(transport, auth, 'http://127.0.0.1:5000');
      const result = await signed({ method: 'GET', url: 'http://127.0.0.1:5000/v2/a/manifests/x' }).catch(
        (e: Error) => e,
      );
      const toRealm = seen.filter((r) => r.url.startsWith('http://127.0.0.2'));
      expect(toRealm.length).toBeGreaterThan(0);
      for (const r of toRealm) {
        expect(r.headers?.authorization).toBeUndefined();
        expect(r.url).not.toContain('account=');
      }
      if (anonymousAllowed) expect((result as { status: number }).status).toBe(200);
      else {
        expect((result as RegistryError).code).toBe('REGISTRY_UNAUTHORIZED');
        expect((result as Error).message).toMatch(
          /another host over plain HTTP: wharf does not send them there/,
        );
      }
    }
  });

  it('credential policy: https realms, the registry host, or hosts marked insecure', () => {
    const may = (realm: string, insecure: string[] = []) =>
      mayReceiveCredentials(new URL(realm), '127.0.0.1:5000', insecure);
    expect(may('https://auth.example/token')).toBe(true);
    expect(may('http://127.0.0.1:5001/token')).toBe(true);
    expect(may('http://127.0.0.2:5001/token')).toBe(false);
    expect(may('http://auth.lan/token')).toBe(false);
    expect(may('http://auth.lan/token', ['auth.lan'])).toBe(true);
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

  it('redactUrl hides a URL password, also one with "/" or percent-escapes, and remembers it', () => {
    expect(redactUrl('https://user:s3cr/et@mirror.example')).toBe('https://user:***@mirror.example');
    expect(redactUrl('http://me:p%40ss-w0rd@127.0.0.1:5151/')).toBe('http://me:***@127.0.0.1:5151/');
    expect(redact('mirror said p@ss-w0rd')).toBe('mirror said ***');
    expect(redactUrl('http://127.0.0.1:5151')).toBe('http://127.0.0.1:5151');
  });
});
