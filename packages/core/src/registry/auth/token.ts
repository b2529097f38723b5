/**
 * The Bearer token flow (distribution's token-auth spec): GET `<realm>?service=…&scope=…` with Basic
 * credentials (or anonymously), or POST an OAuth2 refresh-token form when the credentials are an
 * identity token. Tokens are cached per (realm, service, scopes) until shortly before they expire.
 */
import { printable, RegistryError } from '../errors.js';
import type { HttpResponse, Transport } from '../transport/types.js';
import { mergeScopes } from './challenge.js';
import type { Credentials } from './credentials.js';
import { redact, redactUrl, rememberSecret } from './redact.js';

export interface TokenRequest {
  readonly realm: string;
  readonly service?: string;
  readonly scopes: readonly string[];
}

export interface Token {
  readonly token: string;
  /** Epoch milliseconds after which the token is not used again. */
  readonly expiresAt: number;
}

/** The largest token response wharf reads (a JWT is a few KiB). */
export const TOKEN_LIMIT = 1024 * 1024;

/** The challenge's realm as a URL: http or https only, anything else is the registry's error. */
export function parseRealm(realm: string, registry: string): URL {
  let url: URL | undefined;
  try {
    url = new URL(realm);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new RegistryError(
      'REGISTRY_PROTOCOL',
      `${registry} names a token realm that is not an http(s) URL: ${JSON.stringify(redactUrl(realm))}`,
      { hint: 'the registry is misconfigured (its auth token realm); report it to its operator' },
    );
  }
  return url;
}

/** The token-auth default when the server gives no `expires_in`. */
const DEFAULT_EXPIRES_IN_S = 60;

/** A cache of tokens keyed by realm, service and the normalised scope set. */
export class TokenCache {
  readonly #tokens = new Map<string, Token>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  static key(request: TokenRequest): string {
    return `${request.realm}|${request.service ?? ''}|${mergeScopes(request.scopes).join(' ')}`;
  }

  get(request: TokenRequest): string | undefined {
    const key = TokenCache.key(request);
    const hit = this.#tokens.get(key);
    if (!hit) return undefined;
    if (hit.expiresAt <= this.#now()) {
      this.#tokens.delete(key);
      return undefined;
    }
    return hit.token;
  }

  set(request: TokenRequest, token: Token): void {
    this.#tokens.set(TokenCache.key(request), token);
  }

  /** Drops a token the registry refused. */
  invalidate(request: TokenRequest): void {
    this.#tokens.delete(TokenCache.key(request));
  }

  get size(): number {
    return this.#tokens.size;
  }
}

/** When to stop using a token: 90% of its lifetime, at least 5 s before it ends. */
export function tokenExpiry(expiresInS: number | undefined, issuedAt: number): number {
  const life = (expiresInS && expiresInS > 0 ? expiresInS : DEFAULT_EXPIRES_IN_S) * 1000;
  return issuedAt + Math.max(0, Math.min(life * 0.9, life - 5_000));
}

/**
 * Fetches a token from the realm. Errors name the registry and say whether the credentials were wrong
 * (401/403 from the realm) or the auth server failed.
 */
export async function fetchToken(
  transport: Transport,
  request: TokenRequest,
  credentials: Credentials | undefined,
  registry: string,
  now: () => number = Date.now,
): Promise<Token> {
  const scopes = mergeScopes(request.scopes);
  const url = parseRealm(request.realm, registry);
  const buffer = { limit: TOKEN_LIMIT, what: `the token response from ${redactUrl(url.origin)}` };
  let response: HttpResponse;
  if (credentials && 'identityToken' in credentials) {
    const form = new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: credentials.identityToken,
      client_id: 'wharf',
      ...(request.service ? { service: request.service } : {}),
      ...(scopes.length ? { scope: scopes.join(' ') } : {}),
    });
    response = await transport({
      method: 'POST',
      url: url.toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: Buffer.from(form.toString()),
      buffer,
    });
  } else {
    if (request.service) url.searchParams.set('service', request.service);
    for (const scope of scopes) url.searchParams.append('scope', scope);
    if (credentials) url.searchParams.set('account', credentials.username);
    const headers: Record<string, string> = {};
    if (credentials) {
      headers.authorization = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
    }
    response = await transport({ method: 'GET', url: url.toString(), headers, buffer });
  }
  const text = await response.body.text(TOKEN_LIMIT, buffer.what);
  const context = { registry, operation: `get a token from ${url.origin}${url.pathname}` };
  if (response.status === 401 || response.status === 403) {
    throw new RegistryError(
      'REGISTRY_UNAUTHORIZED',
      credentials
        ? `the auth server for ${registry} rejected the credentials (HTTP ${response.status})`
        : `the auth server for ${registry} requires credentials (HTTP ${response.status})`,
      {
        status: response.status,
        context,
        hint: credentials
          ? `check the username and password, then run: wharf login ${registry}`
          : `log in first: wharf login ${registry}`,
      },
    );
  }
  if (response.status !== 200) {
    throw new RegistryError(
      response.status >= 500 || response.status === 429 ? 'REGISTRY_UNAVAILABLE' : 'REGISTRY_PROTOCOL',
      `the auth server for ${registry} answered HTTP ${response.status}: ${printable(redact(text.slice(0, 200)))}`,
      { status: response.status, context, retryable: response.status >= 500 || response.status === 429 },
    );
  }
  let doc: { token?: unknown; access_token?: unknown; expires_in?: unknown; issued_at?: unknown };
  try {
    doc = JSON.parse(text) as typeof doc;
  } catch (cause) {
    throw new RegistryError('REGISTRY_PROTOCOL', `the auth server for ${registry} sent no JSON`, {
      cause,
      context,
    });
  }
  const token =
    typeof doc.token === 'string' && doc.token
      ? doc.token
      : typeof doc.access_token === 'string'
        ? doc.access_token
        : '';
  if (!token) {
    throw new RegistryError('REGISTRY_PROTOCOL', `the auth server for ${registry} sent no token`, {
      context,
    });
  }
  rememberSecret(token);
  const issued = typeof doc.issued_at === 'string' ? Date.parse(doc.issued_at) : Number.NaN;
  // A skewed server clock must not make tokens look expired: trust our clock unless issued_at is earlier.
  const issuedAt = Number.isNaN(issued) ? now() : Math.min(issued, now());
  return {
    token,
    expiresAt: tokenExpiry(typeof doc.expires_in === 'number' ? doc.expires_in : undefined, issuedAt),
  };
}
