/**
 * One registry endpoint and the distribution API spelt as functions: `ping`, `fetchManifest`,
 * `fetchBlob`, `checkExistingBlob`, `initiateUpload` (with mount), `uploadStatus`, `uploadChunk`,
 * `commitBlob`, `commitManifest`, `cancelUpload`. HTTP concerns are wrappers around the transport
 * (`withRetry(withBuffering(withRedirects(withAuth(http))))`); this file only speaks the protocol and turns
 * unexpected answers into {@link RegistryError}s that name registry, repository and operation.
 */
import { pipeline, type Readable, Transform } from 'node:stream';
import {
  type Descriptor,
  type Digest,
  isDigest,
  isIndex,
  isManifest,
  MediaType,
  parseDigest,
  sha256Digest,
} from '../oci/index.js';
import { Authenticator, withAuth } from './auth/authenticator.js';
import { parseChallenges, pickChallenge, repositoryScope } from './auth/challenge.js';
import { type CredentialOptions, credentialSource } from './auth/credentials.js';
import { redact, redactHeaders, redactUrl } from './auth/redact.js';
import {
  errorFromNetwork,
  errorFromResponse,
  isCertificateError,
  isTlsError,
  printable,
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
import { withBuffering } from './transport/buffer.js';
import { type ClosableTransport, httpTransport } from './transport/http.js';
import { withRedirects } from './transport/redirect.js';
import { parseRetryAfter, type RetryPolicy, withRetry } from './transport/retry.js';
import {
  abandon,
  ERROR_BODY_LIMIT,
  type HttpRequest,
  type HttpResponse,
  header,
  type Transport,
} from './transport/types.js';

/** Options every registry operation takes. */
export interface RegistryOptions extends RegistrySettingsOptions, CredentialOptions {
  readonly retry?: Partial<RetryPolicy>;
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

/** The largest manifest or index wharf reads (containerd's limit). */
export const MANIFEST_LIMIT = 4 * 1024 * 1024;

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
  /** The idle timeout (headers, and between body bytes) every request of this client uses. */
  readonly timeoutMs: number;
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
    this.timeoutMs = settings.timeoutMs;
    this.#http = httpTransport({
      caFiles: settings.caFiles,
      skipVerify: this.#skipVerify,
      timeoutMs: this.timeoutMs,
      ...(options.userAgent ? { userAgent: options.userAgent } : {}),
      ...(options.env ? { env: options.env } : {}),
    });
    const credentialHost = endpoint ? new URL(endpoint).host : registry;
    this.auth = new Authenticator({
      registry: credentialHost,
      apiHost: endpoint ? new URL(endpoint).host : apiHost(registry),
      insecure: settings.insecure,
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
          operation: redactUrl(`${operation} ${info.method} ${info.url}`.trim()),
          attempt: info.attempt,
          delayMs: info.delayMs,
          reason: redact(info.reason),
        });
      },
    };
  }

  #plain(): Transport {
    return withRetry(
      withBuffering(withRedirects(withDebug(this.#http, this.options.debug))),
      this.#retryPolicy('auth'),
    );
  }

  #setup(): Promise<{ origin: string; transport: Transport }> {
    this.#ready ??= (async () => {
      const origin = this.#fixedOrigin ?? (await this.#discover());
      const transport = withRetry(
        withBuffering(withRedirects(withAuth(withDebug(this.#http, this.options.debug), this.auth, origin))),
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
    throw errorFromNetwork(firstError, context, 1, this.timeoutMs);
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
        this.timeoutMs,
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
    body = redact(
      Buffer.from(await response.body.head(ERROR_BODY_LIMIT))
        .toString('utf8')
        .slice(0, 4096),
    );
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

/** Tag grammar of the distribution spec. */
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

function blobTooLarge(what: string, size: number, context: RegistryErrorContext): RegistryError {
  return new RegistryError(
    'REGISTRY_TOO_LARGE',
    `${what} is larger than its descriptor's ${size} bytes: rejected, nothing stored`,
    {
      context,
      hint: 'the registry (or a proxy) sent other content than the manifest names; report it to its operator',
    },
  );
}

/** A pass-through that fails as soon as more than `limit` bytes went through. */
function atMost(limit: number, error: () => Error): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.byteLength;
      callback(seen > limit ? error() : null, seen > limit ? undefined : chunk);
    },
  });
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Every descriptor of a manifest or index from the network has a valid digest (algorithm and hex) and
 * a non-negative integer size before anything uses it: digests become URLs and store paths, sizes
 * bound the downloads.
 */
function checkDescriptors(doc: unknown, what: string, context: RegistryErrorContext): void {
  if (!isObject(doc)) return;
  const entries: [string, unknown][] = [
    ['/config', doc.config],
    ['/subject', doc.subject],
    ...(Array.isArray(doc.layers) ? doc.layers.map((d, i): [string, unknown] => [`/layers/${i}`, d]) : []),
    ...(Array.isArray(doc.manifests)
      ? doc.manifests.map((d, i): [string, unknown] => [`/manifests/${i}`, d])
      : []),
  ];
  for (const [path, descriptor] of entries) {
    if (descriptor === undefined && (path === '/config' || path === '/subject')) continue;
    const problem = descriptorProblem(descriptor);
    if (problem) {
      throw new RegistryError('REGISTRY_INVALID', `${what}: descriptor ${path} ${problem}`, {
        context,
        hint: 'the registry serves a malformed or hostile manifest; wharf will not use it',
      });
    }
  }
}

function descriptorProblem(descriptor: unknown): string | undefined {
  if (!isObject(descriptor)) return 'is not an object';
  if (!isDigest(descriptor.digest)) {
    return `has an invalid digest ${JSON.stringify(descriptor.digest)} (sha256 needs 64 and sha512 128 lowercase hex characters)`;
  }
  const size = descriptor.size;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    return `has an invalid size ${JSON.stringify(size)}`;
  }
  return undefined;
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

  /** `blobs/<digest>`, the digest validated first: a hostile one (`sha256:../../x`) never reaches a URL. */
  #blobPath(digest: string): string {
    return this.#path(`blobs/${parseDigest(digest)}`);
  }

  /** `manifests/<tag or digest>`, validated the same way. */
  #manifestPath(reference: string): string {
    if (reference.includes(':')) return this.#path(`manifests/${parseDigest(reference)}`);
    if (!TAG.test(reference)) {
      throw new RegistryError('REGISTRY_INVALID', `invalid tag ${JSON.stringify(reference)}`, {
        context: this.#context(`pull manifest ${reference}`),
        hint: 'a tag is up to 128 letters, digits, "_", "." and "-", not starting with "." or "-"',
      });
    }
    return this.#path(`manifests/${reference}`);
  }

  get #where(): string {
    return `${this.client.registry}/${this.name}`;
  }

  /** GET a manifest or index by tag or digest; verifies a digest reference and Docker-Content-Digest. */
  async fetchManifest(reference: string): Promise<FetchedManifest> {
    const context = this.#context(`pull manifest ${reference}`);
    const what = `manifest ${reference} from ${this.#where}`;
    const response = await this.client.send(
      {
        method: 'GET',
        url: this.#manifestPath(reference),
        headers: { accept: MANIFEST_ACCEPT },
        scopes: this.scopes,
        buffer: { limit: MANIFEST_LIMIT, what },
      },
      context,
    );
    if (response.status !== 200) throw await failure(response, context);
    const bytes = await response.body.bytes(MANIFEST_LIMIT, what);
    const digest = sha256Digest(bytes);
    const expected = reference.includes(':') ? parseDigest(reference) : undefined;
    const claimed = header(response, 'docker-content-digest');
    if ((expected && expected !== digest) || (claimed?.startsWith('sha256:') && claimed !== digest)) {
      throw new RegistryError(
        'REGISTRY_DIGEST_MISMATCH',
        `manifest ${reference} from ${this.client.registry}/${this.name} hashes to ${digest}, not ${printable(expected ?? claimed ?? '')}`,
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
    checkDescriptors(doc, what, context);
    return { bytes, mediaType, digest };
  }

  /** HEAD a manifest: its digest, or undefined when absent. */
  async headManifest(reference: string): Promise<Digest | undefined> {
    const context = this.#context(`check manifest ${reference}`);
    const response = await this.client.send(
      {
        method: 'HEAD',
        url: this.#manifestPath(reference),
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

  /**
   * GET a blob (redirects followed, without Authorization to other hosts). The stream fails as soon as
   * it passes the descriptor's size (whatever `Content-Length` says, or without one); the caller
   * verifies the digest.
   */
  async fetchBlob(descriptor: Descriptor, options: { readonly offset?: number } = {}): Promise<Readable> {
    const context = this.#context(`pull blob ${descriptor.digest}`);
    const url = this.#blobPath(descriptor.digest);
    const headers: Record<string, string> = options.offset ? { range: `bytes=${options.offset}-` } : {};
    const response = await this.client.send({ method: 'GET', url, headers, scopes: this.scopes }, context);
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
    const expected = descriptor.size - (options.offset ?? 0);
    const what = `blob ${descriptor.digest} from ${this.#where}`;
    const declared = Number(header(response, 'content-length'));
    const body = response.body.stream();
    if (declared > expected) {
      abandon(body);
      throw blobTooLarge(what, descriptor.size, context);
    }
    return pipeline(
      body,
      atMost(expected, () => blobTooLarge(what, descriptor.size, context)),
      () => {},
    );
  }

  /** HEAD a blob: its size when the repository has it, undefined when not. */
  async checkExistingBlob(digest: Digest): Promise<number | undefined> {
    const context = this.#context(`check blob ${digest}`);
    const response = await this.client.send(
      { method: 'HEAD', url: this.#blobPath(digest), scopes: this.scopes },
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
    if (mounting) parseDigest(options.mount as string);
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
    url.searchParams.set('digest', parseDigest(digest));
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
    return (await this.commitManifestHeaders(reference, bytes, mediaType)).digest;
  }

  /**
   * {@link commitManifest}, with the `OCI-Subject` response header: a registry with the referrers API
   * sets it when it processed a manifest's `subject` (distribution-spec v1.1); without it a client
   * keeps the referrers tag.
   */
  async commitManifestHeaders(
    reference: string,
    bytes: Uint8Array,
    mediaType: string,
  ): Promise<{ readonly digest: Digest; readonly ociSubject: string | undefined }> {
    const context = this.#context(`push manifest ${reference}`);
    const response = await this.client.send(
      {
        method: 'PUT',
        url: this.#manifestPath(reference),
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
    return { digest, ociSubject: header(response, 'oci-subject') };
  }
}
