/**
 * The auth wrapper. It signs only requests to the registry's own origin (so nothing leaks to blob
 * storage or another host), learns the scheme from the first `401` challenge, then signs up front:
 * Basic with the credentials, or Bearer with a token for the request's scopes (cached per scope).
 * A `401` on a signed request gets exactly one retry with a fresh token.
 */

import { RegistryError } from '../errors.js';
import { isExplicitlyInsecure } from '../settings.js';
import type { HttpRequest, HttpResponse, Transport } from '../transport/types.js';
import { ERROR_BODY_LIMIT, headerValues, memoryResponse, originOf, withHeaders } from '../transport/types.js';
import { type Challenge, mergeScopes, parseChallenges, pickChallenge } from './challenge.js';
import type { CredentialSource, Credentials } from './credentials.js';
import { redactUrl } from './redact.js';
import { fetchToken, parseRealm, type Token, TokenCache, type TokenRequest } from './token.js';

export interface AuthenticatorOptions {
  /** The registry name credentials are looked up by (`docker.io`, `127.0.0.1:5000`). */
  readonly registry: string;
  /** `host[:port]` the registry's API is reached at (`registry-1.docker.io`); default `registry`. */
  readonly apiHost?: string;
  /** Hosts the user marked insecure: a plain-HTTP token realm there may receive credentials. */
  readonly insecure?: readonly string[];
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

  /** A token for `request`, with the credentials only where {@link mayReceiveCredentials} allows. */
  async #fetchToken(request: TokenRequest): Promise<Token> {
    const { tokenTransport, now } = this.#options;
    const realm = parseRealm(request.realm, this.registry);
    const credentials = await this.credentials();
    const apiHost = this.#options.apiHost ?? this.registry;
    if (!credentials || mayReceiveCredentials(realm, apiHost, this.#options.insecure)) {
      return fetchToken(tokenTransport, request, credentials, this.registry, now);
    }
    try {
      return await fetchToken(tokenTransport, request, undefined, this.registry, now);
    } catch (error) {
      if (!(error instanceof RegistryError) || error.code !== 'REGISTRY_UNAUTHORIZED') throw error;
      throw new RegistryError(
        'REGISTRY_UNAUTHORIZED',
        `${this.registry} asks for credentials at ${redactUrl(realm.origin)}, another host over plain HTTP: wharf does not send them there, and the request without them was refused (HTTP ${error.status})`,
        {
          status: error.status,
          ...(error.context ? { context: error.context } : {}),
          hint: `serve the token endpoint over https or on ${new URL(`http://${apiHost}`).hostname}; if you trust ${realm.host}, list it as an insecure registry (--insecure-registry ${realm.host} or WHARF_INSECURE_REGISTRIES)`,
        },
      );
    }
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
        const token = await this.#fetchToken(request);
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

/**
 * Whether Basic credentials (or an identity token) for the registry at `apiHost` may go to this token
 * realm: over HTTPS, or to the registry's own host name, or to a host the user marked insecure. Never
 * over plain HTTP to another host (Docker sends them there too; a registry must not be able to hand
 * the user's password to a third party in clear text).
 */
export function mayReceiveCredentials(
  realm: URL,
  apiHost: string,
  insecure: readonly string[] = [],
): boolean {
  if (realm.protocol === 'https:') return true;
  if (realm.hostname === new URL(`http://${apiHost}`).hostname) return true;
  return isExplicitlyInsecure(realm.host, insecure);
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
    const body = await response.body.head(ERROR_BODY_LIMIT);
    const again = challenge ? await auth.authorization(scopes, true, challenge) : undefined;
    if (challenge) auth.learn(challenge);
    // Nothing new to offer (no credentials for Basic, or the same header as before): the 401 stands.
    if (!again || (again === first && challenge?.scheme === 'basic')) {
      return memoryResponse(401, response.headers as Record<string, string>, body, response.url);
    }
    return inner(withHeaders(request, { authorization: again }));
  };
}
