/**
 * One registry endpoint and the distribution API spelt as functions: `ping`, `fetchManifest`,
 * `fetchBlob`, `checkExistingBlob`, `initiateUpload` (with mount), `uploadStatus`, `uploadChunk`,
 * `commitBlob`, `commitManifest`, `cancelUpload`. HTTP concerns are wrappers around the transport
 * (`withRetry(withRedirects(withAuth(http)))`); this file only speaks the protocol and turns
 * unexpected answers into {@link RegistryError}s that name registry, repository and operation.
 */
import type { Readable } from 'node:stream';
import {
  type Descriptor,
  type Digest,
  isIndex,
  isManifest,
  MediaType,
  parseDigest,
  sha256Digest,
} from '../oci/index.js';
import { Authenticator, withAuth } from './auth/authenticator.js';
import { parseChallenges, pickChallenge, repositoryScope } from './auth/challenge.js';
import { type CredentialOptions, credentialSource } from './auth/credentials.js';
import { redact, redactHeaders } from './auth/redact.js';
import {
  errorFromNetwork,
  errorFromResponse,
  isCertificateError,
  isTlsError,
  RegistryError,
  type RegistryErrorContext,
} from './errors.js';
import type { RegistryEventSink } from './events.js';
import {
  allowsPlainHttp,
  apiHost,
  isExplicitlyInsecure,
  type RegistrySettingsOptions,
  registrySettings,
} from './settings.js';
import { type ClosableTransport, httpTransport } from './transport/http.js';
import { withRedirects } from './transport/redirect.js';
import { parseRetryAfter, type RetryPolicy, withRetry } from './transport/retry.js';
import { type HttpRequest, type HttpResponse, header, type Transport } from './transport/types.js';

/** Options every registry operation takes. */
export interface RegistryOptions extends RegistrySettingsOptions, CredentialOptions {
  readonly retry?: Partial<RetryPolicy>;
  /** Headers timeout and idle-body timeout per request. Default 60 s. */
  readonly timeoutMs?: number;
  readonly userAgent?: string;
  /** Receives one redacted line per HTTP exchange (`--debug`). */
  readonly debug?: (line: string) => void;
  readonly onEvent?: RegistryEventSink;
}

/** Every manifest type wharf reads, best first. */
export const MANIFEST_ACCEPT = [
  MediaType.ociIndex,
  MediaType.ociManifest,
  MediaType.dockerManifestList,
  MediaType.dockerManifest,
].join(', ');

/** A manifest or index as fetched: exact bytes, media type and digest. */
export interface FetchedManifest {
  readonly bytes: Uint8Array;
  readonly mediaType: string;
  readonly digest: Digest;
}

function withDebug(inner: Transport, log: ((line: string) => void) | undefined): Transport {
  if (!log) return inner;
  return async (request) => {
    const started = Date.now();
    log(redact(`→ ${request.method} ${request.url} ${JSON.stringify(redactHeaders(request.headers ?? {}))}`));
    try {
      const response = await inner(request);
      log(redact(`← ${response.status} ${request.method} ${request.url} (${Date.now() - started} ms)`));
      return response;
    } catch (error) {
      log(redact(`✗ ${request.method} ${request.url}: ${(error as Error).message}`));
      throw error;
    }
  };
}

/**
 * A registry endpoint: `docker.io` (reached at registry-1.docker.io), `127.0.0.1:5000`, or a mirror URL.
 * Discovers the scheme on first use (HTTPS, falling back to HTTP only for loopback and insecure
 * registries) and keeps auth state, so every repository opened from it shares tokens and connections.
 */
export class RegistryClient {
  /** The registry name as in references (`docker.io`). */
  readonly registry: string;
  readonly options: RegistryOptions;
  readonly auth: Authenticator;
  readonly #http: ClosableTransport;
  readonly #skipVerify = new Set<string>();
  readonly #insecure: readonly string[];
  readonly #fixedOrigin: string | undefined;
  #ready: Promise<{ origin: string; transport: Transport }> | undefined;

  /**
   * @param registry the registry name (`docker.io`, `ghcr.io`, `127.0.0.1:5000`)
   * @param endpoint a URL to use instead of the registry's own (a mirror: `http://127.0.0.1:5151`)
   */
  constructor(registry: string, options: RegistryOptions = {}, endpoint?: string) {
    this.registry = registry;
    this.options = options;
    const settings = registrySettings(options);
    this.#insecure = settings.insecure;
    this.#fixedOrigin = endpoint ? new URL(endpoint).origin : undefined;
    this.#http = httpTransport({
      caFiles: settings.caFiles,
      skipVerify: this.#skipVerify,
      ...(options.userAgent ? { userAgent: options.userAgent } : {}),
      ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.env ? { env: options.env } : {}),
    });
    const credentialHost = endpoint ? new URL(endpoint).host : registry;
    this.auth = new Authenticator({
      registry: credentialHost,
      credentials: credentialSource(options),
      tokenTransport: this.#plain(),
    });
  }

  /** Where requests go: `https://registry-1.docker.io`, `http://127.0.0.1:5000`. Pings on first call. */
  async origin(): Promise<string> {
    return (await this.#setup()).origin;
  }

  #retryPolicy(operation: string): Partial<RetryPolicy> {
    const onEvent = this.options.onEvent;
    return {
      ...this.options.retry,
      onRetry: (info) => {
        this.options.retry?.onRetry?.(info);
        onEvent?.({
          type: 'retry',
          operation: `${operation} ${info.method} ${info.url}`.trim(),
          attempt: info.attempt,
          delayMs: info.delayMs,
          reason: info.reason,
        });
      },
    };
  }

  #plain(): Transport {
    return withRetry(withRedirects(withDebug(this.#http, this.options.debug)), this.#retryPolicy('auth'));
  }

  #setup(): Promise<{ origin: string; transport: Transport }> {
    this.#ready ??= (async () => {
      const origin = this.#fixedOrigin ?? (await this.#discover());
      const transport = withRetry(
        withRedirects(withAuth(withDebug(this.#http, this.options.debug), this.auth, origin)),
        this.#retryPolicy(this.registry),
      );
      return { origin, transport };
    })();
    this.#ready.catch(() => {
      this.#ready = undefined; // a failed discovery is tried again next time
    });
    return this.#ready;
  }

  /** GET /v2/ over HTTPS, then HTTP where allowed; learns the auth challenge on the way. */
  async #discover(): Promise<string> {
    const host = apiHost(this.registry);
    const plainAllowed = allowsPlainHttp(this.registry, this.#insecure);
    const explicitlyInsecure = isExplicitlyInsecure(this.registry, this.#insecure);
    const context = { registry: this.registry, operation: 'connect' };
    let firstError: unknown;
    const candidates = [`https://${host}`, ...(plainAllowed ? [`http://${host}`] : [])];
    for (const origin of candidates) {
      try {
        await this.#ping(origin);
        return origin;
      } catch (error) {
        if (error instanceof RegistryError) throw error;
        // A server that speaks TLS with a certificate we cannot verify is not a plain-HTTP server.
        if (isCertificateError(error) && !explicitlyInsecure) throw errorFromNetwork(error, context, 1);
        if (
          explicitlyInsecure &&
          origin.startsWith('https:') &&
          isTlsError(error) &&
          !this.#skipVerify.has(host)
        ) {
          // Docker's rule for insecure registries: HTTPS without verification before plain HTTP.
          this.#skipVerify.add(host);
          try {
            await this.#ping(origin);
            return origin;
          } catch (again) {
            this.#skipVerify.delete(host);
            firstError ??= again;
            continue;
          }
        }
        firstError ??= error;
      }
    }
    throw errorFromNetwork(firstError, context, 1);
  }

  async #ping(origin: string): Promise<void> {
    const response = await this.#plain()({ method: 'GET', url: `${origin}/v2/` });
    await response.body.dump();
    if (response.status === 401) {
      const challenge = pickChallenge(parseChallenges(response.headers['www-authenticate']));
      if (challenge) this.auth.learn(challenge);
      return;
    }
    if (response.status === 200 || response.status === 404) return;
    throw errorFromResponse(response.status, '', { registry: this.registry, operation: 'ping' });
  }

  /** Ping (scheme discovery and auth challenge); resolves when the registry answers. */
  async ping(): Promise<void> {
    await this.#setup();
  }

  /** Sends a request; network failures (after retries) become REGISTRY_UNAVAILABLE/REGISTRY_TLS. */
  async send(
    request: Omit<HttpRequest, 'url'> & { readonly url: string },
    context: RegistryErrorContext,
  ): Promise<HttpResponse> {
    let ready: { origin: string; transport: Transport };
    try {
      ready = await this.#setup();
    } catch (error) {
      throw inContext(error, context);
    }
    const { origin, transport } = ready;
    const url = new URL(request.url, origin).toString();
    try {
      return await transport({ ...request, url });
    } catch (error) {
      throw errorFromNetwork(
        error,
        context,
        request.retry === false ? 1 : (this.options.retry?.attempts ?? 5),
      );
    }
  }

  /** Opens a repository with the token scope for `actions`. */
  repository(name: string, actions: 'pull' | 'pull,push' = 'pull'): RemoteRepository {
    return new RemoteRepository(this, name, actions);
  }

  async close(): Promise<void> {
    await this.#http.close();
  }
}

/** A connection-time failure restated for the operation that needed the connection. */
function inContext(error: unknown, context: RegistryErrorContext): unknown {
  if (!(error instanceof RegistryError)) return error;
  const where = context.repository ? `${context.registry}/${context.repository}` : context.registry;
  return new RegistryError(error.code, `${context.operation} on ${where}: ${error.message}`, {
    cause: error,
    context,
    retryable: error.retryable,
    ...(error.status !== undefined ? { status: error.status } : {}),
    specErrors: error.specErrors,
    ...(error.hint !== undefined ? { hint: error.hint } : {}),
  });
}

/** An error for `response`, reading its body (for the spec error codes). */
export async function failure(response: HttpResponse, context: RegistryErrorContext): Promise<RegistryError> {
  let body = '';
  try {
    body = redact((await response.body.text()).slice(0, 4096));
  } catch {
    // the body broke too; the status is enough
  }
  return errorFromResponse(response.status, body, context, {
    ...(parseRetryAfter(header(response, 'retry-after')) !== undefined
      ? { retryAfterMs: parseRetryAfter(header(response, 'retry-after')) as number }
      : {}),
  });
}

/** `Range: 0-<last>` → bytes received (`last + 1`); `0-0` with nothing uploaded is 0 on some registries. */
export function parseUploadRange(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(?:bytes=)?(\d+)-(\d+)$/.exec(value.trim());
  if (!m) return undefined;
  return Number(m[2]) + 1;
}

function stripParams(contentType: string | undefined): string | undefined {
  return contentType?.split(';')[0]?.trim().toLowerCase();
}

/** One repository on a registry, with the token scope its operations use. */
export class RemoteRepository {
  readonly client: RegistryClient;
  readonly name: string;
  readonly scopes: readonly string[];

  constructor(client: RegistryClient, name: string, actions: 'pull' | 'pull,push') {
    this.client = client;
    this.name = name;
    this.scopes = [repositoryScope(name, actions)];
  }

  #context(operation: string): RegistryErrorContext {
    return { registry: this.client.registry, repository: this.name, operation };
  }

  #path(suffix: string): string {
    return `/v2/${this.name}/${suffix}`;
  }

  /** GET a manifest or index by tag or digest; verifies a digest reference and Docker-Content-Digest. */
  async fetchManifest(reference: string): Promise<FetchedManifest> {
    const context = this.#context(`pull manifest ${reference}`);
    const response = await this.client.send(
      {
        method: 'GET',
        url: this.#path(`manifests/${reference}`),
        headers: { accept: MANIFEST_ACCEPT },
        scopes: this.scopes,
      },
      context,
    );
    if (response.status !== 200) throw await failure(response, context);
    const bytes = await response.body.bytes();
    const digest = sha256Digest(bytes);
    const expected = reference.includes(':') ? parseDigest(reference) : undefined;
    const claimed = header(response, 'docker-content-digest');
    if ((expected && expected !== digest) || (claimed?.startsWith('sha256:') && claimed !== digest)) {
      throw new RegistryError(
        'REGISTRY_DIGEST_MISMATCH',
        `manifest ${reference} from ${this.client.registry}/${this.name} hashes to ${digest}, not ${expected ?? claimed}`,
        {
          context,
          hint: 'the registry (or a proxy) altered the manifest; try again or report it to the registry operator',
        },
      );
    }
    let doc: { mediaType?: unknown; schemaVersion?: unknown };
    try {
      doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as typeof doc;
    } catch (cause) {
      throw new RegistryError('REGISTRY_PROTOCOL', `manifest ${reference} is not JSON`, { cause, context });
    }
    const contentType = stripParams(header(response, 'content-type'));
    if (
      doc.schemaVersion === 1 ||
      contentType?.startsWith('application/vnd.docker.distribution.manifest.v1')
    ) {
      throw new RegistryError(
        'REGISTRY_UNSUPPORTED',
        `${this.client.registry}/${this.name}:${reference} is a schema 1 manifest`,
        {
          context,
          hint: 'schema 1 images are deprecated; push the image again with a current Docker or wharf',
        },
      );
    }
    const declared = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
    if (
      declared &&
      contentType &&
      contentType !== declared &&
      (isIndex(contentType) || isManifest(contentType))
    ) {
      throw new RegistryError(
        'REGISTRY_PROTOCOL',
        `manifest ${reference}: Content-Type ${contentType} disagrees with its mediaType ${declared}`,
        { context },
      );
    }
    const mediaType = declared ?? contentType ?? MediaType.ociManifest;
    return { bytes, mediaType, digest };
  }

  /** HEAD a manifest: its digest, or undefined when absent. */
  async headManifest(reference: string): Promise<Digest | undefined> {
    const context = this.#context(`check manifest ${reference}`);
    const response = await this.client.send(
      {
        method: 'HEAD',
        url: this.#path(`manifests/${reference}`),
        headers: { accept: MANIFEST_ACCEPT },
        scopes: this.scopes,
      },
      context,
    );
    await response.body.dump();
    if (response.status === 404) return undefined;
    if (response.status !== 200) throw await failure(response, context);
    const digest = header(response, 'docker-content-digest');
    return digest ? parseDigest(digest) : undefined;
  }

  /** GET a blob (redirects followed, without Authorization to other hosts). The caller verifies. */
  async fetchBlob(descriptor: Descriptor, options: { readonly offset?: number } = {}): Promise<Readable> {
    const context = this.#context(`pull blob ${descriptor.digest}`);
    const headers: Record<string, string> = options.offset ? { range: `bytes=${options.offset}-` } : {};
    const response = await this.client.send(
      { method: 'GET', url: this.#path(`blobs/${descriptor.digest}`), headers, scopes: this.scopes },
      context,
    );
    if (response.status !== 200 && response.status !== 206) throw await failure(response, context);
    if (options.offset && response.status !== 206) {
      await response.body.dump();
      throw new RegistryError(
        'REGISTRY_PROTOCOL',
        `the registry ignored a Range request for ${descriptor.digest}`,
        {
          context,
          retryable: false,
        },
      );
    }
    return response.body.stream();
  }

  /** HEAD a blob: its size when the repository has it, undefined when not. */
  async checkExistingBlob(digest: Digest): Promise<number | undefined> {
    const context = this.#context(`check blob ${digest}`);
    const response = await this.client.send(
      { method: 'HEAD', url: this.#path(`blobs/${digest}`), scopes: this.scopes },
      context,
    );
    await response.body.dump();
    if (response.status === 404) return undefined;
    if (response.status !== 200) throw await failure(response, context);
    const length = header(response, 'content-length');
    return length === undefined ? -1 : Number(length);
  }

  /**
   * POST an upload session; with `mount`/`from`, a cross-repository mount first. `mounted` means the
   * blob is there (201); otherwise the session's Location (202).
   */
  async initiateUpload(
    options: { readonly mount?: Digest; readonly from?: string } = {},
  ): Promise<{ readonly mounted: true } | { readonly mounted: false; readonly location: string }> {
    const mounting = options.mount !== undefined && options.from !== undefined;
    const query = mounting
      ? `?mount=${encodeURIComponent(options.mount as string)}&from=${encodeURIComponent(options.from as string)}`
      : '';
    const context = this.#context(
      mounting ? `mount blob ${options.mount} from ${options.from}` : 'start blob upload',
    );
    const scopes = mounting ? [...this.scopes, repositoryScope(options.from as string, 'pull')] : this.scopes;
    const response = await this.client.send(
      {
        method: 'POST',
        url: this.#path('blobs/uploads/') + query,
        headers: { 'content-length': '0' },
        body: new Uint8Array(0),
        scopes,
      },
      context,
    );
    if (mounting && response.status === 201) {
      await response.body.dump();
      return { mounted: true };
    }
    const location = header(response, 'location');
    if (response.status !== 202 || !location) {
      if (response.status === 202)
        throw new RegistryError('REGISTRY_PROTOCOL', 'upload started without a Location', { context });
      throw await failure(response, context);
    }
    await response.body.dump();
    return { mounted: false, location: await this.#absolute(location) };
  }

  async #absolute(location: string): Promise<string> {
    return new URL(location, await this.client.origin()).toString();
  }

  /** GET the upload's status: bytes the registry holds and the Location to continue at. */
  async uploadStatus(location: string): Promise<{ readonly offset: number; readonly location: string }> {
    const context = this.#context('check upload status');
    const response = await this.client.send({ method: 'GET', url: location, scopes: this.scopes }, context);
    if (response.status !== 204 && response.status !== 200) throw await failure(response, context);
    await response.body.dump();
    const offset = parseUploadRange(header(response, 'range')) ?? 0;
    const next = header(response, 'location');
    return { offset, location: next ? await this.#absolute(next) : location };
  }

  /**
   * PATCH one chunk at `start` (Content-Range inclusive, no `bytes=`). Not retried by the transport:
   * the caller asks {@link uploadStatus} and resumes. Returns the registry's offset and next Location.
   */
  async uploadChunk(
    location: string,
    start: number,
    chunk: Uint8Array,
  ): Promise<{ readonly offset: number; readonly location: string }> {
    const context = this.#context(`upload chunk ${start}-${start + chunk.byteLength - 1}`);
    const response = await this.client.send(
      {
        method: 'PATCH',
        url: location,
        headers: {
          'content-type': 'application/octet-stream',
          'content-range': `${start}-${start + chunk.byteLength - 1}`,
        },
        body: chunk,
        scopes: this.scopes,
        retry: false,
      },
      context,
    );
    if (response.status !== 202) throw await failure(response, context);
    await response.body.dump();
    const offset = parseUploadRange(header(response, 'range')) ?? start + chunk.byteLength;
    const next = header(response, 'location');
    return { offset, location: next ? await this.#absolute(next) : location };
  }

  /** PUT `<location>?digest=` with an optional final body: the blob is complete (201). */
  async commitBlob(location: string, digest: Digest, body?: Uint8Array): Promise<void> {
    const context = this.#context(`commit blob ${digest}`);
    const url = new URL(location);
    url.searchParams.set('digest', digest);
    const response = await this.client.send(
      {
        method: 'PUT',
        url: url.toString(),
        headers: { 'content-type': 'application/octet-stream' },
        body: body ?? new Uint8Array(0),
        scopes: this.scopes,
        // A PUT whose body may have reached the registry is not blindly repeated either.
        retry: body === undefined || body.byteLength === 0,
      },
      context,
    );
    if (response.status !== 201 && response.status !== 204) throw await failure(response, context);
    await response.body.dump();
  }

  /** DELETE an upload session (best effort). */
  async cancelUpload(location: string): Promise<void> {
    try {
      const response = await this.client.send(
        { method: 'DELETE', url: location, scopes: this.scopes, retry: false },
        this.#context('cancel upload'),
      );
      await response.body.dump();
    } catch {
      // ignored, as the spec allows
    }
  }

  /** PUT a manifest under a tag or digest with its media type; returns the digest the registry reports. */
  async commitManifest(reference: string, bytes: Uint8Array, mediaType: string): Promise<Digest> {
    const context = this.#context(`push manifest ${reference}`);
    const response = await this.client.send(
      {
        method: 'PUT',
        url: this.#path(`manifests/${reference}`),
        headers: { 'content-type': mediaType },
        body: bytes,
        scopes: this.scopes,
      },
      context,
    );
    if (response.status !== 201 && response.status !== 200 && response.status !== 202)
      throw await failure(response, context);
    await response.body.dump();
    const digest = sha256Digest(bytes);
    const reported = header(response, 'docker-content-digest');
    if (reported && reported !== digest) {
      throw new RegistryError(
        'REGISTRY_DIGEST_MISMATCH',
        `the registry stored manifest ${reference} as ${reported}, not ${digest}`,
        {
          context,
        },
      );
    }
    return digest;
  }
}
