/**
 * The auth wrapper. It signs only requests to the registry's own origin (so nothing leaks to blob
 * storage or another host), learns the scheme from the first `401` challenge, then signs up front:
 * Basic with the credentials, or Bearer with a token for the request's scopes (cached per scope).
 * A `401` on a signed request gets exactly one retry with a fresh token.
 */
import type { HttpRequest, HttpResponse, Transport } from '../transport/types.js';
import { headerValues, memoryResponse, originOf, withHeaders } from '../transport/types.js';
import { type Challenge, mergeScopes, parseChallenges, pickChallenge } from './challenge.js';
import type { CredentialSource, Credentials } from './credentials.js';
import { fetchToken, TokenCache, type TokenRequest } from './token.js';

export interface AuthenticatorOptions {
  /** The registry name credentials are looked up by (`docker.io`, `127.0.0.1:5000`). */
  readonly registry: string;
  readonly credentials: CredentialSource;
  /** For token requests: the plain transport (with retries, without auth). */
  readonly tokenTransport: Transport;
  readonly tokens?: TokenCache;
  readonly now?: () => number;
}

/** Per-registry auth state: the challenge learnt so far and the token cache. */
export class Authenticator {
  readonly registry: string;
  readonly tokens: TokenCache;
  readonly #options: AuthenticatorOptions;
  #challenge: Challenge | undefined;
  #credentials: Promise<Credentials | undefined> | undefined;
  /** Token fetches in flight, so concurrent requests for one scope share one fetch. */
  readonly #pending = new Map<string, Promise<string>>();
  /** Number of token requests made (for tests and debug output). */
  tokenRequests = 0;

  constructor(options: AuthenticatorOptions) {
    this.registry = options.registry;
    this.#options = options;
    this.tokens = options.tokens ?? new TokenCache(options.now);
  }

  credentials(): Promise<Credentials | undefined> {
    this.#credentials ??= this.#options.credentials(this.registry);
    return this.#credentials;
  }

  /** The scheme learnt from the registry: `basic`, `bearer`, or undefined before any challenge. */
  get scheme(): string | undefined {
    return this.#challenge?.scheme;
  }

  /** Records a challenge from a 401 (or from the `/v2/` ping). */
  learn(challenge: Challenge): void {
    this.#challenge = challenge;
  }

  #tokenRequest(scopes: readonly string[], challenge: Challenge): TokenRequest {
    const fromChallenge = challenge.params.scope ? challenge.params.scope.split(' ') : [];
    return {
      realm: challenge.params.realm ?? '',
      ...(challenge.params.service !== undefined ? { service: challenge.params.service } : {}),
      scopes: mergeScopes([...scopes, ...fromChallenge]),
    };
  }

  /** The Authorization header for a request with these scopes, fetching a token if needed. */
  async authorization(
    scopes: readonly string[],
    fresh = false,
    challenge = this.#challenge,
  ): Promise<string | undefined> {
    if (!challenge) return undefined;
    if (challenge.scheme === 'basic') {
      const creds = await this.credentials();
      if (!creds || !('password' in creds)) return undefined;
      return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
    }
    if (challenge.scheme !== 'bearer' || !challenge.params.realm) return undefined;
    const request = this.#tokenRequest(scopes, challenge);
    if (fresh) this.tokens.invalidate(request);
    const cached = this.tokens.get(request);
    if (cached) return `Bearer ${cached}`;
    const key = TokenCache.key(request);
    let pending = this.#pending.get(key);
    if (!pending) {
      pending = (async () => {
        this.tokenRequests++;
        const token = await fetchToken(
          this.#options.tokenTransport,
          request,
          await this.credentials(),
          this.registry,
          this.#options.now,
        );
        this.tokens.set(request, token);
        return token.token;
      })();
      this.#pending.set(key, pending);
      pending.then(
        () => this.#pending.delete(key),
        () => this.#pending.delete(key),
      );
    }
    return `Bearer ${await pending}`;
  }
}

/** Signs requests for `origin` with `auth` (see the module doc). */
export function withAuth(inner: Transport, auth: Authenticator, origin: string): Transport {
  return async (request: HttpRequest): Promise<HttpResponse> => {
    if (originOf(request.url) !== origin) return inner(request);
    const scopes = request.scopes ?? [];
    const first = await auth.authorization(scopes);
    const response = await inner(first ? withHeaders(request, { authorization: first }) : request);
    if (response.status !== 401) return response;
    const challenge = pickChallenge(parseChallenges(headerValues(response, 'www-authenticate')));
    const body = await response.body.bytes();
    const again = challenge ? await auth.authorization(scopes, true, challenge) : undefined;
    if (challenge) auth.learn(challenge);
    // Nothing new to offer (no credentials for Basic, or the same header as before): the 401 stands.
    if (!again || (again === first && challenge?.scheme === 'basic')) {
      return memoryResponse(401, response.headers as Record<string, string>, body, response.url);
    }
    return inner(withHeaders(request, { authorization: again }));
  };
}
