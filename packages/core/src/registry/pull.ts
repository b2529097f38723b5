/**
 * The registry as a *source*: `remoteImage(ref)` is a lazy {@link Image} (nothing is fetched until
 * something is asked of it), `remoteIndex(ref)` a lazy {@link ImageIndex}, and `pullImage(ref)` fetches
 * config and layers into a content store up front, concurrently, skipping blobs the store has.
 *
 * Every byte is verified: manifests against their digest, blobs by the store's digest check as they
 * are written (content that does not match is rejected and not stored). Docker Hub images are asked
 * of the configured mirrors first, falling back to the registry itself.
 */

import { Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { mapLimit, Semaphore } from '../fsutil/limit.js';
import {
  defaultPlatform,
  type Image,
  type ImageIndex,
  imageFromManifest,
  indexFromManifest,
  type Layer,
  lazyImage,
  lazyIndex,
  verified,
} from '../image/index.js';
import {
  bestMatch,
  type Descriptor,
  type Digest,
  formatPlatform,
  isIndex,
  isManifest,
  type ImageIndex as OciImageIndex,
  type Platform,
  parsePlatform,
  parseReference,
  type Reference,
} from '../oci/index.js';
import { redactUrl } from './auth/redact.js';
import {
  type FetchedManifest,
  RegistryClient,
  type RegistryOptions,
  type RemoteRepository,
} from './client.js';
import { errorFromNetwork, isConnectionError, RegistryError } from './errors.js';
import { LiveDownload } from './live-download.js';
import { registrySettings } from './settings.js';
import { DEFAULT_RETRY_POLICY, retrying } from './transport/retry.js';

/** The store operations pulling needs (`BlobStore` from `store/` has them). */
export interface PullStore {
  has(digest: Digest): Promise<boolean>;
  open(digest: Digest): Promise<Readable>;
  putWriter(options: { readonly expected?: Digest; readonly size?: number }): Writable & {
    commit(): Promise<{ readonly digest: Digest; readonly size: number }>;
    abort(): Promise<void>;
  };
}

export interface PullOptions extends RegistryOptions {
  /** `linux/arm64`, or a Platform; default Linux on this machine's architecture. */
  readonly platform?: Platform | string;
  /** Fetch blobs into this store and read them from there; without it, blobs stream from the registry. */
  readonly store?: PullStore;
  /** Blobs fetched at once. Default 4. */
  readonly concurrency?: number;
}

/** Where a layer came from, so a push to another repository of the same registry can mount it. */
export interface BlobOrigin {
  readonly registry: string;
  readonly repository: string;
}

const origins = new WeakMap<object, BlobOrigin>();

/** The registry repository a layer (from {@link remoteImage}) was pulled from, if any. */
export function originOf(layer: Layer): BlobOrigin | undefined {
  return origins.get(layer);
}

/** A place a manifest and its blobs can be read from: a mirror or the registry itself. */
interface Source {
  readonly label: string;
  readonly repo: RemoteRepository;
  readonly mirror: boolean;
}

function toReference(ref: string | Reference): Reference {
  return typeof ref === 'string' ? parseReference(ref) : ref;
}

function toPlatform(platform: Platform | string | undefined): Platform {
  return platform === undefined
    ? defaultPlatform()
    : typeof platform === 'string'
      ? parsePlatform(platform)
      : platform;
}

/** Mirrors first (Docker Hub only), then the registry. */
function sourcesFor(ref: Reference, options: RegistryOptions): Source[] {
  const sources: Source[] = [];
  if (ref.registry === 'docker.io') {
    for (const mirror of registrySettings(options).mirrors) {
      const client = new RegistryClient(ref.registry, options, mirror);
      sources.push({ label: redactUrl(mirror), repo: client.repository(ref.repository), mirror: true });
    }
  }
  const upstream = new RegistryClient(ref.registry, options);
  sources.push({ label: ref.registry, repo: upstream.repository(ref.repository), mirror: false });
  return sources;
}

/** The first source that has the manifest; a failing mirror falls through to the next. */
async function resolveManifest(
  ref: Reference,
  sources: readonly Source[],
  options: RegistryOptions,
): Promise<{ manifest: FetchedManifest; index: number }> {
  const wanted = ref.digest ?? ref.tag ?? 'latest';
  for (let i = 0; i < sources.length; i++) {
    const source = sources[i] as Source;
    try {
      return { manifest: await source.repo.fetchManifest(wanted), index: i };
    } catch (error) {
      if (!source.mirror) throw error;
      options.onEvent?.({ type: 'mirror-fallback', mirror: source.label, reason: (error as Error).message });
    }
  }
  throw new RegistryError('REGISTRY_NOT_FOUND', `no source for ${ref.toString()}`);
}

/**
 * What `ref` names now: its root manifest or index (exact bytes, media type, digest) as the first source
 * that has it serves it (mirrors first for Docker Hub). For pinning a tag (`wharf lock`): the digest is
 * the index's for a multi-platform image, never one platform's.
 *
 * @example
 * const { digest, mediaType } = await fetchRootManifest('alpine:3.20', { mirrors: ['http://127.0.0.1:5151'] });
 */
export async function fetchRootManifest(
  ref: string | Reference,
  options: RegistryOptions = {},
): Promise<FetchedManifest> {
  const reference = toReference(ref);
  return (await resolveManifest(reference, sourcesFor(reference, options), options)).manifest;
}

/** Fetches blobs and child manifests from the sources, preferring the one that served the root. */
class RemoteContent {
  readonly ref: Reference;
  readonly #sources: readonly Source[];
  readonly #options: PullOptions;
  #preferred = 0;
  readonly #inFlight = new Map<string, Promise<void>>();
  /** Downloads started by {@link fetchInBackground}, by digest: a read follows or waits for its blob's, and fails with it. */
  readonly #background = new Map<string, Promise<boolean>>();
  /** The background downloads a read can follow as they arrive, by digest, until each settles. */
  readonly #live = new Map<string, LiveDownload>();

  constructor(ref: Reference, sources: readonly Source[], options: PullOptions) {
    this.ref = ref;
    this.#sources = sources;
    this.#options = options;
  }

  prefer(index: number): void {
    this.#preferred = index;
  }

  #ordered(): Source[] {
    const first = this.#sources[this.#preferred];
    return first ? [first, ...this.#sources.filter((s) => s !== first)] : [...this.#sources];
  }

  /** A child manifest by digest. */
  async manifest(digest: Digest): Promise<FetchedManifest> {
    let last: unknown;
    for (const source of this.#ordered()) {
      try {
        return await source.repo.fetchManifest(digest);
      } catch (error) {
        last = error;
        if (!source.mirror) break;
      }
    }
    throw last;
  }

  /**
   * The blob opener an Image needs: manifests by digest, blobs through the store (or streamed,
   * verified). A blob downloading in the background is followed as it arrives (see {@link LiveDownload}).
   */
  opener = async (descriptor: Descriptor): Promise<Readable> => {
    if (isManifest(descriptor.mediaType) || isIndex(descriptor.mediaType)) {
      return Readable.from([Buffer.from((await this.manifest(descriptor.digest)).bytes)]);
    }
    const store = this.#options.store;
    const follower = this.#live.get(descriptor.digest)?.follow();
    if (follower) return follower; // the background download's bytes as they arrive, ending once verified
    await this.#background.get(descriptor.digest); // its failure is this read's (not a second download)
    if (!store) {
      const source = this.#ordered()[0] as Source;
      return verified(await source.repo.fetchBlob(descriptor), {
        digest: descriptor.digest,
        size: descriptor.size,
        what: `blob ${descriptor.digest} from ${source.label}`,
      });
    }
    await this.ensure(descriptor);
    return store.open(descriptor.digest);
  };

  /**
   * Starts bringing `blobs` into the store, `concurrency` at a time, without waiting: the promise
   * settles with which were downloaded (rather than found) once all are in, or, after a failure, once
   * the running ones settle (no new one starts), with the first failure.
   */
  fetchInBackground(blobs: readonly Descriptor[], concurrency: number): Promise<boolean[]> {
    const places = new Semaphore(concurrency);
    let failed: { error: unknown } | undefined;
    const each = blobs.map((descriptor) => {
      const known = this.#background.get(descriptor.digest);
      if (known) return known;
      const store = this.#options.store;
      const live = store
        ? new LiveDownload({ digest: descriptor.digest, openStored: () => store.open(descriptor.digest) })
        : undefined;
      if (live) this.#live.set(descriptor.digest, live);
      const download = (async () => {
        await places.acquire();
        try {
          if (failed) throw failed.error;
          return await this.ensure(descriptor);
        } catch (error) {
          failed ??= { error };
          throw error;
        } finally {
          places.release();
        }
      })();
      // Reported through the returned promise, and to the read that needs it (or follows it).
      if (!live) download.catch(() => {});
      else {
        download
          .then(
            () => live.complete(descriptor.size),
            (error: unknown) => live.fail(error),
          )
          .finally(() => this.#live.delete(descriptor.digest));
      }
      this.#background.set(descriptor.digest, download);
      return download;
    });
    return Promise.allSettled(each).then((settled) =>
      settled.map((result) => {
        if (result.status === 'rejected') throw failed ? failed.error : result.reason;
        return result.value;
      }),
    );
  }

  /** Makes sure the store has the blob; true when it was downloaded now. Concurrent calls share one download. */
  async ensure(descriptor: Descriptor): Promise<boolean> {
    const store = this.#options.store;
    if (!store) throw new Error('ensure() needs a store');
    if (await store.has(descriptor.digest)) {
      this.#options.onEvent?.({ type: 'blob-cached', digest: descriptor.digest, size: descriptor.size });
      return false;
    }
    let pending = this.#inFlight.get(descriptor.digest);
    if (!pending) {
      pending = this.#download(store, descriptor);
      this.#inFlight.set(descriptor.digest, pending);
      pending.catch(() => this.#inFlight.delete(descriptor.digest));
    }
    await pending;
    return true;
  }

  async #download(store: PullStore, descriptor: Descriptor): Promise<void> {
    let last: unknown;
    for (const source of this.#ordered()) {
      try {
        await retrying(this.#options.retry ?? {}, `pull blob ${descriptor.digest}`, async () => {
          const writer = store.putWriter({ expected: descriptor.digest, size: descriptor.size });
          let bytes = 0;
          const onEvent = this.#options.onEvent;
          const live = this.#live.get(descriptor.digest);
          const progress = new Transform({
            transform(chunk: Buffer, _encoding, callback) {
              const position = bytes; // within this attempt: a retry starts again at 0
              bytes += chunk.byteLength;
              onEvent?.({
                type: 'blob-progress',
                direction: 'pull',
                digest: descriptor.digest,
                size: descriptor.size,
                bytes,
              });
              if (!live) return callback(null, chunk);
              // The store writes this chunk while followers take it; the next waits for both.
              this.push(chunk);
              live.write(chunk, position).then(() => callback(), callback);
            },
          });
          try {
            await pipeline(await source.repo.fetchBlob(descriptor), progress, writer);
            await writer.commit();
          } catch (error) {
            await writer.abort();
            throw mismatchOr(error, descriptor, source);
          }
        });
        this.#options.onEvent?.({ type: 'blob-fetched', digest: descriptor.digest, size: descriptor.size });
        return;
      } catch (error) {
        // A body that broke or stalled on every attempt is named as the registry's failure, not ours.
        last = isConnectionError(error)
          ? errorFromNetwork(
              error,
              blobContext(descriptor, source),
              this.#options.retry?.attempts ?? DEFAULT_RETRY_POLICY.attempts,
              source.repo.client.timeoutMs,
            )
          : error;
        if (!source.mirror) break;
        this.#options.onEvent?.({
          type: 'mirror-fallback',
          mirror: source.label,
          reason: (last as Error).message,
        });
      }
    }
    throw last;
  }
}

function blobContext(descriptor: Descriptor, source: Source) {
  return {
    registry: source.repo.client.registry,
    repository: source.repo.name,
    operation: `pull blob ${descriptor.digest}`,
  };
}

/** The store's digest/size errors, as registry errors naming where the bad bytes came from. */
function mismatchOr(error: unknown, descriptor: Descriptor, source: Source): unknown {
  const code = (error as { code?: unknown }).code;
  if (code === 'STORE_DIGEST_MISMATCH' || code === 'STORE_SIZE_MISMATCH') {
    return new RegistryError(
      'REGISTRY_DIGEST_MISMATCH',
      `blob ${descriptor.digest} from ${source.label}/${source.repo.name} does not match its digest: rejected, nothing stored`,
      {
        cause: error,
        context: blobContext(descriptor, source),
        hint: 'the registry or a proxy sent corrupt content; try again, or report it to the registry operator',
      },
    );
  }
  return error;
}

/** Picks the image for `platform` out of an index document. */
function selectDescriptor(index: OciImageIndex, platform: Platform, where: string): Descriptor {
  const images = index.manifests.filter((d) => isManifest(d.mediaType) || isIndex(d.mediaType));
  const match = bestMatch(images, platform);
  if (!match) {
    const available = images.map((d) => (d.platform ? formatPlatform(d.platform) : 'unknown')).join(', ');
    throw new RegistryError('REGISTRY_NO_PLATFORM', `${where} has no image for ${formatPlatform(platform)}`, {
      hint: `available platforms: ${available || 'none'}; pass --platform`,
    });
  }
  return match;
}

/** `image` with its layers marked as coming from `origin` (see {@link originOf}). */
export function withOrigin(image: Image, origin: BlobOrigin): Image {
  // Delegates method by method: spreading an Image made by a class would drop its prototype's methods.
  return {
    mediaType: () => image.mediaType(),
    manifest: () => image.manifest(),
    rawManifest: () => image.rawManifest(),
    digest: () => image.digest(),
    config: () => image.config(),
    rawConfig: () => image.rawConfig(),
    configDescriptor: () => image.configDescriptor(),
    layers: async () => {
      const layers = await image.layers();
      for (const layer of layers) if (!origins.has(layer)) origins.set(layer, origin);
      return layers;
    },
  };
}

interface Resolved {
  readonly ref: Reference;
  readonly content: RemoteContent;
  readonly root: FetchedManifest;
}

async function resolve(reference: string | Reference, options: PullOptions): Promise<Resolved> {
  const ref = toReference(reference);
  const sources = sourcesFor(ref, options);
  const content = new RemoteContent(ref, sources, options);
  const { manifest, index } = await resolveManifest(ref, sources, options);
  content.prefer(index);
  return { ref, content, root: manifest };
}

async function imageOf(resolved: Resolved, options: PullOptions): Promise<Image> {
  const { ref, content } = resolved;
  let current = resolved.root;
  const platform = toPlatform(options.platform);
  for (let depth = 0; isIndex(current.mediaType); depth++) {
    if (depth > 4)
      throw new RegistryError('REGISTRY_PROTOCOL', `${ref.toString()}: indexes nested too deeply`);
    const index = JSON.parse(Buffer.from(current.bytes).toString('utf8')) as OciImageIndex;
    const chosen = selectDescriptor(index, platform, ref.toString());
    current = await content.manifest(chosen.digest);
  }
  if (!isManifest(current.mediaType)) {
    throw new RegistryError(
      'REGISTRY_UNSUPPORTED',
      `${ref.toString()} is a ${current.mediaType}, not an image`,
      {
        hint: 'wharf pulls container images (OCI or Docker schema 2 manifests and indexes)',
      },
    );
  }
  const image = imageFromManifest({
    rawManifest: current.bytes,
    mediaType: current.mediaType,
    blob: content.opener,
  });
  return withOrigin(image, { registry: ref.registry, repository: ref.repository });
}

/**
 * A lazy Image for `ref`: the manifest is resolved (and, for an index, the platform chosen) on first
 * use; layers are fetched into `options.store` when opened (or streamed, verified, without a store).
 * Usable as a FROM base: the engine reads config and layers through the Image interface.
 */
export function remoteImage(ref: string | Reference, options: PullOptions = {}): Image {
  return lazyImage(async () => imageOf(await resolve(ref, options), options));
}

/** A lazy ImageIndex for `ref` (which must name an index or manifest list). */
export function remoteIndex(ref: string | Reference, options: PullOptions = {}): ImageIndex {
  return lazyIndex(async () => {
    const resolved = await resolve(ref, options);
    if (!isIndex(resolved.root.mediaType)) {
      throw new RegistryError(
        'REGISTRY_UNSUPPORTED',
        `${resolved.ref.toString()} is a single image, not an index`,
        {
          hint: 'use remoteImage() for single-platform images',
        },
      );
    }
    return indexFromManifest({
      rawManifest: resolved.root.bytes,
      mediaType: resolved.root.mediaType,
      blob: resolved.content.opener,
    });
  });
}

export interface PullResult {
  readonly image: Image;
  readonly reference: Reference;
  /** The manifest digest of the image pulled (the platform's, for an index). */
  readonly digest: Digest;
  /** The digest the reference resolved to (the index's, for a multi-platform image). */
  readonly rootDigest: Digest;
  readonly fetched: number;
  readonly cached: number;
  readonly bytes: number;
}

/** Resolves `ref` and fetches its config and layers into `options.store` (required), concurrently. */
export async function pullImage(
  ref: string | Reference,
  options: PullOptions & { readonly store: PullStore },
): Promise<PullResult> {
  return fetchImage(await resolve(ref, options), options);
}

/** What {@link startPull} gives before the layers are in. */
export interface StartedPull {
  readonly image: Image;
  /** The manifest digest of the image (the platform's, for an index). */
  readonly digest: Digest;
  /** Settles when every layer is in the store; rejects with the first failure. */
  readonly layers: Promise<PullResult>;
}

/**
 * {@link pullImage}, returning as soon as the manifest and config are in: the layers download in the
 * background, so a caller that needs only the config (a build whose base's listings it has) goes on
 * at once. Reading a layer of `image` follows that layer's download as its bytes arrive (the stream ends
 * only once the store verified the blob) and fails with it.
 *
 * @example
 * const pull = await startPull('node:20-alpine', { store });
 * const config = await pull.image.config(); // no layer downloaded yet
 * await pull.layers; // every layer in the store
 */
export async function startPull(
  ref: string | Reference,
  options: PullOptions & { readonly store: PullStore },
): Promise<StartedPull> {
  return startFetch(await resolve(ref, options), options);
}

/** {@link startPull} of a resolved reference: the config now, the layers in the background. */
async function startFetch(
  resolved: Resolved,
  options: PullOptions & { readonly store: PullStore },
): Promise<StartedPull> {
  const image = await imageOf(resolved, options);
  const manifest = await image.manifest();
  const config = await resolved.content.ensure(manifest.config);
  await image.config(); // read and verify from the store
  const digest = await image.digest();
  const blobs = [manifest.config, ...manifest.layers];
  const layers = resolved.content
    .fetchInBackground(manifest.layers, options.concurrency ?? 4)
    .then((fetchedLayers): PullResult => {
      const downloaded = [config, ...fetchedLayers];
      const fetched = downloaded.filter(Boolean).length;
      return {
        image,
        reference: resolved.ref,
        digest,
        rootDigest: resolved.root.digest,
        fetched,
        cached: blobs.length - fetched,
        bytes: blobs.reduce((n, d, i) => n + (downloaded[i] ? d.size : 0), 0),
      };
    });
  layers.catch(() => {}); // the caller's to observe; a layer read fails with it anyway
  return { image, digest, layers };
}

/** {@link pullImage} of a resolved reference. */
async function fetchImage(
  resolved: Resolved,
  options: PullOptions & { readonly store: PullStore },
): Promise<PullResult> {
  return (await startFetch(resolved, options)).layers;
}

/** What {@link pullAll} fetched. */
export interface PullAllResult {
  /** Every platform of a multi-platform image, as its index; or the image, when `ref` names one image. */
  readonly content: Image | ImageIndex;
  readonly reference: Reference;
  /** The digest `ref` resolved to: the index's (pin this), or the single image's. */
  readonly digest: Digest;
  /** The platforms of the index's images (`linux/amd64`, `unknown/unknown` for attestations), in order. */
  readonly platforms: readonly string[];
  readonly fetched: number;
  readonly cached: number;
  readonly bytes: number;
}

/**
 * Resolves `ref` and fetches everything it names into `options.store`: for an index, the config and
 * layers of every image in it (nested indexes too; a blob shared by several platforms once), so the
 * whole index can be written to an OCI layout or archive as crane's `pull --format=oci` does; for a
 * single image, that image (`options.platform` is not used).
 *
 * @example
 * const pulled = await pullAll('ghcr.io/org/app:1.0', { store });
 * await exportImage(pulled.content, 'type=oci,dest=./app'); // the index, every platform
 */
export async function pullAll(
  ref: string | Reference,
  options: PullOptions & { readonly store: PullStore },
): Promise<PullAllResult> {
  const resolved = await resolve(ref, options);
  const { root, content } = resolved;
  if (!isIndex(root.mediaType)) {
    const pulled = await fetchImage(resolved, options);
    return {
      content: pulled.image,
      reference: pulled.reference,
      digest: pulled.digest,
      platforms: [],
      fetched: pulled.fetched,
      cached: pulled.cached,
      bytes: pulled.bytes,
    };
  }
  const blobs = new Map<Digest, Descriptor>();
  const platforms: string[] = [];
  const walk = async (bytes: Uint8Array, depth: number): Promise<void> => {
    if (depth > 4)
      throw new RegistryError('REGISTRY_PROTOCOL', `${resolved.ref.toString()}: indexes nested too deeply`);
    const index = JSON.parse(Buffer.from(bytes).toString('utf8')) as OciImageIndex;
    for (const child of index.manifests) {
      if (isIndex(child.mediaType)) {
        await walk((await content.manifest(child.digest)).bytes, depth + 1);
      } else if (isManifest(child.mediaType)) {
        platforms.push(child.platform ? formatPlatform(child.platform) : 'unknown');
        const manifest = JSON.parse(
          Buffer.from((await content.manifest(child.digest)).bytes).toString('utf8'),
        ) as {
          config: Descriptor;
          layers?: Descriptor[];
        };
        for (const blob of [manifest.config, ...(manifest.layers ?? [])]) blobs.set(blob.digest, blob);
      }
    }
  };
  await walk(root.bytes, 0);
  const all = [...blobs.values()];
  const downloaded = await mapLimit(all, options.concurrency ?? 4, (d) => content.ensure(d));
  const fetched = downloaded.filter(Boolean).length;
  return {
    content: indexFromManifest({ rawManifest: root.bytes, mediaType: root.mediaType, blob: content.opener }),
    reference: resolved.ref,
    digest: root.digest,
    platforms,
    fetched,
    cached: all.length - fetched,
    bytes: all.reduce((n, d, i) => n + (downloaded[i] ? d.size : 0), 0),
  };
}
