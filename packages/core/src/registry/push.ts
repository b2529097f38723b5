/**
 * The registry as a *sink*. Per blob, in protocol order (go-containerregistry's `remote.write`):
 * `checkExistingBlob` (HEAD) → `initiateUpload` with a cross-repository mount when the blob is known
 * in another repository of the same registry → `streamBlob` (one PUT for small blobs; PATCH chunks
 * with `Content-Range` for large ones) → `commitBlob`; then `commitManifest` for each tag.
 *
 * Large uploads resume. After every acknowledged chunk the session (Location, offset) is saved through
 * {@link UploadSessions}; after a failure — a dropped connection in this process, or a killed process
 * on the next run — the push asks the registry for the session's status and continues from its
 * `Range`. When the registry has dropped the session (distribution cancels one whose stored offset no
 * longer matches the bytes it holds), that blob starts again from byte 0.
 */
import { Readable } from 'node:stream';
import { keyedQueue, mapLimit } from '../fsutil/limit.js';
import type { Image, ImageIndex, Layer } from '../image/index.js';
import {
  type Descriptor,
  type Digest,
  isNonDistributable,
  parseReference,
  type Reference,
  sha256Digest,
} from '../oci/index.js';
import { RegistryClient, type RegistryOptions, type RemoteRepository } from './client.js';
import { isRetryable, RegistryError } from './errors.js';
import { originOf } from './pull.js';
import { memoryUploadSessions, type UploadSessions } from './sessions.js';
import { backoffDelay, resolvePolicy, sleep } from './transport/retry.js';

export interface PushOptions extends RegistryOptions {
  /** Where upload sessions are kept so a later push can resume them; default in memory. */
  readonly sessions?: UploadSessions;
  /** Blobs uploaded at once. Default 4. */
  readonly concurrency?: number;
  /** PATCH chunk size; blobs up to this size go up in one PUT. Default 16 MiB. */
  readonly chunkSize?: number;
  /** Other repositories on the target registry to try mounting blobs from. */
  readonly mountFrom?: readonly string[];
  /**
   * Shared by the pushes of one run (`bake()`): which repositories of each registry hold which blobs.
   * A blob another push of the run uploaded is mounted from there, and one being uploaded is waited
   * for (then mounted), so each distinct blob goes up once per registry.
   */
  readonly blobs?: BlobLocations;
}

/**
 * What the pushes of one run know about where blobs are: per registry and digest, the repositories
 * that hold it; and one push of a blob to a registry at a time.
 * @example
 * const blobs = new BlobLocations();
 * await Promise.all([pushImage(api, 'r.example/api:1', { blobs }), pushImage(web, 'r.example/web:1', { blobs })]);
 */
export class BlobLocations {
  readonly #holders = new Map<string, string[]>();
  readonly #queue = keyedQueue();
  readonly #clients = new Map<string, RegistryClient>();

  /**
   * The run's client for `registry`, made by the first push to it: the pushes after it skip the
   * scheme discovery (an HTTPS attempt and a ping each), reuse its connections and its tokens.
   */
  client(registry: string, make: () => RegistryClient): RegistryClient {
    let client = this.#clients.get(registry);
    if (!client) {
      client = make();
      this.#clients.set(registry, client);
    }
    return client;
  }

  /** Closes the run's clients (their idle connections); call once every push is done. */
  async close(): Promise<void> {
    const clients = [...this.#clients.values()];
    this.#clients.clear();
    await Promise.all(clients.map((c) => c.close()));
  }

  /** Repositories of `registry` known to hold `digest`. */
  holders(registry: string, digest: Digest): readonly string[] {
    return this.#holders.get(`${registry} ${digest}`) ?? [];
  }

  /** Records that `repository` of `registry` holds `digest`. */
  add(registry: string, digest: Digest, repository: string): void {
    const key = `${registry} ${digest}`;
    const list = this.#holders.get(key) ?? [];
    if (!list.includes(repository)) list.push(repository);
    this.#holders.set(key, list);
  }

  /** Runs `work` once no other push of `digest` to `registry` in this run is in progress. */
  exclusive<T>(registry: string, digest: Digest, work: () => Promise<T>): Promise<T> {
    return this.#queue(`${registry} ${digest}`, work);
  }
}

export interface PushStats {
  /** Blobs uploaded (fully or resumed). */
  uploaded: number;
  /** Blobs the repository already had. */
  existing: number;
  /** Blobs mounted from another repository. */
  mounted: number;
  /** Uploads that continued an earlier session. */
  resumed: number;
  /** Blob bytes this process sent. */
  bytesSent: number;
  /** Bytes of the blobs mounted from another repository (not sent). */
  bytesMounted: number;
  /** Bytes of the blobs the repository already had (not sent). */
  bytesExisting: number;
}

export interface PushResult {
  readonly references: readonly string[];
  readonly digest: Digest;
  readonly mediaType: string;
  readonly stats: PushStats;
}

/** A blob to push, with how to read it. */
interface PushBlob {
  readonly descriptor: Descriptor;
  open(): Promise<Readable>;
  readonly layer?: Layer;
}

const DEFAULT_CHUNK = 16 * 1024 * 1024;

function toReferences(refs: string | Reference | readonly (string | Reference)[]): Reference[] {
  const list = Array.isArray(refs) ? refs : [refs as string | Reference];
  if (list.length === 0)
    throw new RegistryError('REGISTRY_INVALID', 'nothing to push to: no reference given');
  return list.map((r) => (typeof r === 'string' ? parseReference(r) : r));
}

/** References grouped by registry/repository, in first-seen order. */
function byRepository(refs: readonly Reference[]): Reference[][] {
  const groups = new Map<string, Reference[]>();
  for (const ref of refs) {
    const list = groups.get(ref.name) ?? [];
    list.push(ref);
    groups.set(ref.name, list);
  }
  return [...groups.values()];
}

function newStats(): PushStats {
  return {
    uploaded: 0,
    existing: 0,
    mounted: 0,
    resumed: 0,
    bytesSent: 0,
    bytesMounted: 0,
    bytesExisting: 0,
  };
}

/** The counts of several pushes added up (one build's platforms, one bake's targets). */
export function sumPushStats(stats: readonly PushStats[]): PushStats {
  const total = newStats();
  for (const s of stats) for (const key of Object.keys(total) as (keyof PushStats)[]) total[key] += s[key];
  return total;
}

/** Reads a stream in exact-size pieces (the last may be shorter); `skip` discards. */
class ChunkReader {
  readonly #iterator: AsyncIterator<Buffer>;
  #pending: Buffer = Buffer.alloc(0);
  #done = false;
  readonly #stream: Readable;

  constructor(stream: Readable) {
    this.#stream = stream;
    this.#iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  async read(size: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let have = 0;
    while (have < size) {
      if (this.#pending.byteLength === 0) {
        if (this.#done) break;
        const next = await this.#iterator.next();
        if (next.done) {
          this.#done = true;
          break;
        }
        this.#pending = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
      }
      const take = Math.min(size - have, this.#pending.byteLength);
      parts.push(this.#pending.subarray(0, take));
      this.#pending = this.#pending.subarray(take);
      have += take;
    }
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
  }

  async skip(bytes: number): Promise<void> {
    let left = bytes;
    while (left > 0) {
      const piece = await this.read(Math.min(left, 4 * 1024 * 1024));
      if (piece.byteLength === 0) break;
      left -= piece.byteLength;
    }
  }

  close(): void {
    this.#stream.destroy();
  }
}

/** One push: a target repository, its options, its counters. */
class Pusher {
  readonly repo: RemoteRepository;
  readonly registry: string;
  readonly options: PushOptions;
  readonly sessions: UploadSessions;
  readonly stats: PushStats;
  readonly #mountFrom: readonly string[];

  constructor(repo: RemoteRepository, options: PushOptions, stats: PushStats, mountFrom: readonly string[]) {
    this.repo = repo;
    this.registry = repo.client.registry;
    this.options = options;
    this.sessions = options.sessions ?? memoryUploadSessions();
    this.stats = stats;
    this.#mountFrom = mountFrom;
  }

  get #chunkSize(): number {
    return this.options.chunkSize ?? DEFAULT_CHUNK;
  }

  /** HEAD → mount → upload, for one blob; with `blobs`, one push of it per registry at a time. */
  async pushBlob(blob: PushBlob): Promise<void> {
    const shared = this.options.blobs;
    if (!shared) return this.#pushBlob(blob);
    const { digest } = blob.descriptor;
    await shared.exclusive(this.registry, digest, async () => {
      await this.#pushBlob(blob);
      shared.add(this.registry, digest, this.repo.name);
    });
  }

  async #pushBlob(blob: PushBlob): Promise<void> {
    const { digest, size } = blob.descriptor;
    if ((await this.repo.checkExistingBlob(digest)) !== undefined) {
      this.stats.existing++;
      this.stats.bytesExisting += size;
      this.options.onEvent?.({ type: 'blob-exists', digest, size });
      return;
    }
    const session = await this.#mountOrSession(blob);
    if (session === 'mounted') return;
    await this.#upload(blob, session);
  }

  /** Candidates to mount from: the layer's origin (same registry) and any `mountFrom` repositories. */
  #mountCandidates(blob: PushBlob): string[] {
    const origin = blob.layer ? originOf(blob.layer) : undefined;
    const list = [
      ...(origin && origin.registry === this.registry ? [origin.repository] : []),
      ...this.#mountFrom,
      ...(this.options.blobs?.holders(this.registry, blob.descriptor.digest) ?? []),
    ];
    return [...new Set(list)].filter((r) => r !== this.repo.name);
  }

  /** Tries cross-repository mounts; returns 'mounted' or a session Location to upload to (or undefined). */
  async #mountOrSession(blob: PushBlob): Promise<'mounted' | string | undefined> {
    const { digest, size } = blob.descriptor;
    let location: string | undefined;
    for (const from of this.#mountCandidates(blob)) {
      const started = await this.repo.initiateUpload({ mount: digest, from });
      if (started.mounted) {
        if (location) await this.repo.cancelUpload(location);
        this.stats.mounted++;
        this.stats.bytesMounted += size;
        this.options.onEvent?.({ type: 'blob-mounted', digest, size, from });
        return 'mounted';
      }
      if (location) await this.repo.cancelUpload(location);
      location = started.location;
    }
    return location;
  }

  async #save(digest: Digest, size: number, location: string, offset: number): Promise<void> {
    await this.sessions.put({
      registry: this.registry,
      repository: this.repo.name,
      digest,
      size,
      location,
      offset,
      updatedAt: new Date().toISOString(),
    });
  }

  /** A saved session the registry still knows, with the registry's offset; else undefined. */
  async #resumable(digest: Digest, size: number): Promise<{ location: string; offset: number } | undefined> {
    const saved = await this.sessions.get(digest, this.registry, this.repo.name);
    if (!saved || saved.size !== size) return undefined;
    try {
      const status = await this.repo.uploadStatus(saved.location);
      if (status.offset > size)
        throw new RegistryError('REGISTRY_PROTOCOL', 'upload is longer than the blob');
      return status;
    } catch {
      await this.sessions.delete(digest, this.registry, this.repo.name);
      return undefined;
    }
  }

  async #upload(blob: PushBlob, mountSession: string | undefined): Promise<void> {
    const { digest, size } = blob.descriptor;
    const policy = resolvePolicy(this.options.retry);
    const wait = policy.sleep ?? sleep;
    let sent = 0;

    const resumed = size > this.#chunkSize ? await this.#resumable(digest, size) : undefined;
    if (resumed) {
      if (mountSession) await this.repo.cancelUpload(mountSession);
      this.stats.resumed++;
      this.options.onEvent?.({ type: 'blob-resumed', digest, size, offset: resumed.offset });
    }

    if (!resumed && size <= this.#chunkSize) {
      // Monolithic: POST, then PUT with the whole body. Re-sent from scratch on failure.
      const bytes = await readAllOf(await blob.open(), size);
      if (sha256Digest(bytes) !== digest && digest.startsWith('sha256:')) {
        throw new RegistryError(
          'REGISTRY_DIGEST_MISMATCH',
          `blob ${digest} does not match its content (local source changed?)`,
          {
            hint: 'the image being pushed is inconsistent; rebuild it',
          },
        );
      }
      for (let attempt = 1; ; attempt++) {
        try {
          const location = attempt === 1 && mountSession ? mountSession : await this.#newSession();
          await this.#commit(location, digest, size, bytes);
          sent += bytes.byteLength;
          break;
        } catch (error) {
          if (!isRetryable(error) || attempt >= policy.attempts) throw error;
          await wait(backoffDelay(policy, attempt, (error as RegistryError).retryAfterMs));
        }
      }
      this.#finished(digest, size, sent);
      return;
    }

    // Chunked. A commit the registry rejects as DIGEST_INVALID means its copy got corrupted (distribution
    // can interleave a dead request's late write with the resent chunk): upload that blob again from 0.
    let location = resumed?.location ?? mountSession ?? (await this.#newSession());
    let offset = resumed?.offset ?? 0;
    for (let restart = 0; ; restart++) {
      if (!resumed || restart > 0) await this.#save(digest, size, location, offset);
      const done = await this.#streamBlob(blob, location, offset);
      sent += done.sent;
      try {
        await this.#commit(done.location, digest, size);
        break;
      } catch (error) {
        const corrupt = (error as RegistryError).specErrors?.some(
          (e) => e.code === 'DIGEST_INVALID' || e.code === 'SIZE_INVALID',
        );
        if (!corrupt || restart >= 2) throw error;
        this.options.onEvent?.({
          type: 'warning',
          message: `registry rejected ${digest} at commit (${(error as Error).message}); uploading it again`,
        });
        await this.sessions.delete(digest, this.registry, this.repo.name);
        location = await this.#newSession();
        offset = 0;
      }
    }
    await this.sessions.delete(digest, this.registry, this.repo.name);
    this.#finished(digest, size, sent);
  }

  /**
   * PUTs the commit. A commit can take effect while its answer is lost (a dropped connection, a
   * timeout while the registry verifies a large blob); the retried PUT then finds no session (404)
   * or races the first one's clean-up (DIGEST_INVALID). So a failed commit asks whether the
   * repository now holds the blob, which the registry only stores after checking its digest.
   */
  async #commit(location: string, digest: Digest, size: number, body?: Uint8Array): Promise<void> {
    try {
      await this.repo.commitBlob(location, digest, body);
    } catch (error) {
      const held = await this.repo.checkExistingBlob(digest).catch(() => undefined);
      if (held === size || held === -1) return;
      throw error;
    }
  }

  /**
   * PATCHes the blob from `offset` in chunks, saving the session after each acknowledged chunk; after a
   * failure asks the registry for the upload's status and continues from its Range (or, when the
   * session is gone, from 0 in a new one). Returns the Location to commit at and the bytes sent.
   */
  async #streamBlob(
    blob: PushBlob,
    startLocation: string,
    startOffset: number,
  ): Promise<{ location: string; sent: number }> {
    const { digest, size } = blob.descriptor;
    const policy = resolvePolicy(this.options.retry);
    const wait = policy.sleep ?? sleep;
    let location = startLocation;
    let offset = startOffset;
    let sent = 0;
    let reader = await this.#readerAt(blob, offset);
    let failures = 0;
    let restarts = 0;
    // A registry that acknowledges chunks without moving forward (`Range: 0-0` every time) would
    // have us send the same bytes for ever: a few rounds without progress, or 4 times the blob, end it.
    let stuck = 0;
    const budget = 4 * size + policy.attempts * this.#chunkSize;
    try {
      while (offset < size) {
        const chunk = await reader.read(Math.min(this.#chunkSize, size - offset));
        if (chunk.byteLength === 0) {
          throw new RegistryError(
            'REGISTRY_INVALID',
            `blob ${digest} is shorter than its descriptor (${offset} of ${size} bytes)`,
          );
        }
        if (sent + chunk.byteLength > budget)
          throw await this.#noProgress(digest, offset, size, `${sent} bytes sent`);
        try {
          const next = await this.repo.uploadChunk(location, offset, chunk);
          sent += chunk.byteLength;
          failures = 0;
          if (next.offset > offset + chunk.byteLength) {
            throw new RegistryError(
              'REGISTRY_PROTOCOL',
              `the registry acknowledged ${next.offset} bytes of ${digest} after receiving ${offset + chunk.byteLength}`,
              { hint: 'the registry (or a proxy) is broken; report it to its operator' },
            );
          }
          stuck = next.offset > offset ? 0 : stuck + 1;
          if (stuck >= policy.attempts) {
            throw await this.#noProgress(digest, next.offset, size, `${stuck} chunks in a row`);
          }
          location = next.location;
          if (next.offset !== offset + chunk.byteLength) {
            // The registry kept a different amount: continue from what it says it has.
            offset = next.offset;
            reader.close();
            reader = await this.#readerAt(blob, offset);
          } else {
            offset = next.offset;
          }
          await this.#save(digest, size, location, offset);
          this.options.onEvent?.({ type: 'blob-progress', direction: 'push', digest, size, bytes: offset });
        } catch (error) {
          failures++;
          if (error instanceof RegistryError && error.code === 'REGISTRY_PROTOCOL') throw error;
          if (!isRetryable(error) && (error as RegistryError).status !== 416) throw error;
          if (failures >= policy.attempts) throw error;
          const delayMs = backoffDelay(policy, failures, (error as RegistryError).retryAfterMs);
          this.options.onEvent?.({
            type: 'retry',
            operation: `upload ${digest} at ${offset}`,
            attempt: failures,
            delayMs,
            reason: (error as Error).message,
          });
          await wait(delayMs);
          reader.close();
          let status: { offset: number; location: string } | undefined;
          try {
            status = await this.repo.uploadStatus(location);
          } catch (statusError) {
            if (isRetryable(statusError)) {
              reader = await this.#readerAt(blob, offset);
              continue; // try the chunk again; the next failure asks again
            }
          }
          if (status) {
            location = status.location;
            offset = status.offset;
          } else {
            // The session is gone (distribution cancels one that holds part of a failed chunk): restart.
            if (++restarts > 3) throw error;
            await this.sessions.delete(digest, this.registry, this.repo.name);
            location = await this.#newSession();
            offset = 0;
          }
          await this.#save(digest, size, location, offset);
          reader = await this.#readerAt(blob, offset);
        }
      }
    } finally {
      reader.close();
    }
    return { location, sent };
  }

  /** The error for an upload the registry does not move forward; its session is useless, so it goes. */
  async #noProgress(digest: Digest, offset: number, size: number, after: string): Promise<RegistryError> {
    await this.sessions.delete(digest, this.registry, this.repo.name);
    return new RegistryError(
      'REGISTRY_PROTOCOL',
      `upload of ${digest} to ${this.registry}/${this.repo.name} makes no progress: the registry stays at ${offset} of ${size} bytes after ${after}`,
      {
        context: { registry: this.registry, repository: this.repo.name, operation: `push blob ${digest}` },
        hint: 'the registry does not keep the uploaded chunks (a broken registry or proxy); report it to its operator',
      },
    );
  }

  #finished(digest: Digest, size: number, sent: number): void {
    this.stats.uploaded++;
    this.stats.bytesSent += sent;
    this.options.onEvent?.({ type: 'blob-progress', direction: 'push', digest, size, bytes: size });
    this.options.onEvent?.({ type: 'blob-pushed', digest, size, sent });
  }

  async #newSession(): Promise<string> {
    const started = await this.repo.initiateUpload();
    if (started.mounted)
      throw new RegistryError('REGISTRY_PROTOCOL', 'a plain upload was answered as a mount');
    return started.location;
  }

  async #readerAt(blob: PushBlob, offset: number): Promise<ChunkReader> {
    const reader = new ChunkReader(await blob.open());
    if (offset > 0) await reader.skip(offset);
    return reader;
  }

  async pushManifest(reference: string, bytes: Uint8Array, mediaType: string): Promise<Digest> {
    const digest = await this.repo.commitManifest(reference, bytes, mediaType);
    this.options.onEvent?.({
      type: 'manifest-pushed',
      reference: `${this.registry}/${this.repo.name}${reference.includes(':') ? '@' : ':'}${reference}`,
      digest,
    });
    return digest;
  }
}

async function readAllOf(stream: Readable, size: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let have = 0;
  for await (const chunk of stream) {
    chunks.push(chunk as Buffer);
    have += (chunk as Buffer).byteLength;
    if (have > size) break;
  }
  stream.destroy();
  return Buffer.concat(chunks);
}

/** The blobs of an image: layers (skipping non-distributable ones), then the config. */
async function blobsOfImage(image: Image): Promise<PushBlob[]> {
  const [manifest, layers, rawConfig] = await Promise.all([
    image.manifest(),
    image.layers(),
    image.rawConfig(),
  ]);
  const out: PushBlob[] = [];
  manifest.layers.forEach((descriptor, i) => {
    if (isNonDistributable(descriptor.mediaType)) return;
    const layer = layers[i];
    if (!layer)
      throw new RegistryError('REGISTRY_INVALID', `the image lists more layer descriptors than layers`);
    out.push({ descriptor, open: () => layer.compressed(), layer });
  });
  out.push({ descriptor: manifest.config, open: async () => Readable.from([Buffer.from(rawConfig)]) });
  return out;
}

/** Pushes an image's blobs and its manifest (by digest, no tag) into one repository. */
async function pushImageInto(
  pusher: Pusher,
  image: Image,
  tags: readonly string[],
): Promise<{ digest: Digest; mediaType: string }> {
  const [raw, mediaType, digest] = await Promise.all([
    image.rawManifest(),
    image.mediaType(),
    image.digest(),
  ]);
  // Fast path: the first tag already points at this manifest, so every blob is there too.
  const first = tags[0];
  const current = first ? await pusher.repo.headManifest(first).catch(() => undefined) : undefined;
  if (current !== digest) {
    const blobs = await blobsOfImage(image);
    const seen = new Set<string>();
    const unique = blobs.filter((b) => !seen.has(b.descriptor.digest) && seen.add(b.descriptor.digest));
    await mapLimit(unique, pusher.options.concurrency ?? 4, (blob) => pusher.pushBlob(blob));
  } else {
    const manifest = await image.manifest();
    pusher.stats.existing += manifest.layers.length + 1;
    pusher.stats.bytesExisting += [manifest.config, ...manifest.layers].reduce((sum, d) => sum + d.size, 0);
  }
  if (tags.length === 0) await pusher.pushManifest(digest, raw, mediaType);
  for (const [i, tag] of tags.entries()) {
    if (i === 0 && current === digest) continue;
    await pusher.pushManifest(tag, raw, mediaType);
  }
  return { digest, mediaType };
}

function tagsOf(refs: readonly Reference[]): string[] {
  return [...new Set(refs.map((r) => r.tag ?? r.digest ?? 'latest'))];
}

/**
 * Pushes `image` to every reference (`reg/app:1.0`, `reg/app:latest`, …). References in other
 * repositories of the same registry get their blobs by cross-repository mount from the first.
 */
export async function pushImage(
  image: Image,
  refs: string | Reference | readonly (string | Reference)[],
  options: PushOptions = {},
): Promise<PushResult> {
  const references = toReferences(refs);
  const stats = newStats();
  let result: { digest: Digest; mediaType: string } | undefined;
  await eachRepository(references, options, stats, async (pusher, group) => {
    result = await pushImageInto(pusher, image, tagsOf(group));
  });
  const done = result as { digest: Digest; mediaType: string };
  return {
    references: references.map((r) => r.toString()),
    digest: done.digest,
    mediaType: done.mediaType,
    stats,
  };
}

/**
 * Runs `push` once per repository of `references` (grouped by {@link byRepository}), with a Pusher
 * for it: one client per registry, and blobs mounted from the repositories pushed before it on the
 * same registry (besides `options.mountFrom`). Closes the clients it made at the end; a run's shared
 * ones (`options.blobs`) stay open for its other pushes.
 */
async function eachRepository(
  references: readonly Reference[],
  options: PushOptions,
  stats: PushStats,
  push: (pusher: Pusher, group: readonly Reference[]) => Promise<void>,
): Promise<void> {
  // This push's own clients; with `blobs`, the run's (closed by whoever made the BlobLocations).
  const clients = new Map<string, RegistryClient>();
  const shared = options.blobs;
  const pushed: string[] = [];
  try {
    for (const group of byRepository(references)) {
      const target = group[0] as Reference;
      const make = () => new RegistryClient(target.registry, options);
      const client = shared ? shared.client(target.registry, make) : (clients.get(target.registry) ?? make());
      if (!shared) clients.set(target.registry, client);
      const mountFrom = [
        ...(options.mountFrom ?? []),
        ...pushed
          .filter((p) => p.startsWith(`${target.registry}/`))
          .map((p) => p.slice(target.registry.length + 1)),
      ];
      await push(
        new Pusher(client.repository(target.repository, 'pull,push'), options, stats, mountFrom),
        group,
      );
      pushed.push(target.name);
    }
  } finally {
    await Promise.all([...clients.values()].map((c) => c.close()));
  }
}

/**
 * Pushes a multi-platform image: the blobs of all its images concurrently (a blob shared by several
 * platforms once), each image's manifest by digest, then the index under every reference. Takes an
 * ImageIndex (its images, in order) and pushes its exact index bytes. References in other
 * repositories of the same registry get their blobs by cross-repository mount from the first.
 */
export async function pushIndex(
  index: ImageIndex,
  refs: string | Reference | readonly (string | Reference)[],
  options: PushOptions = {},
): Promise<PushResult> {
  const references = toReferences(refs);
  const stats = newStats();
  const [raw, mediaType, digest, entries, nested] = await Promise.all([
    index.rawManifest(),
    index.mediaType(),
    index.digest(),
    index.images(),
    index.indexes(),
  ]);
  if (nested.length > 0) {
    throw new RegistryError('REGISTRY_UNSUPPORTED', 'pushing nested indexes is not supported', {
      hint: 'push each inner index on its own',
    });
  }
  await eachRepository(references, options, stats, async (pusher, group) => {
    // Every platform's blobs at once, each blob once (platforms share base layers), then each
    // platform's manifest by digest, then the index under each tag.
    const blobs = (await Promise.all(entries.map((e) => blobsOfImage(e.image)))).flat();
    const seen = new Set<string>();
    const unique = blobs.filter((b) => !seen.has(b.descriptor.digest) && seen.add(b.descriptor.digest));
    await mapLimit(unique, pusher.options.concurrency ?? 4, (blob) => pusher.pushBlob(blob));
    for (const { image } of entries) {
      const [bytes, type, digest] = await Promise.all([
        image.rawManifest(),
        image.mediaType(),
        image.digest(),
      ]);
      await pusher.pushManifest(digest, bytes, type);
    }
    for (const tag of tagsOf(group)) await pusher.pushManifest(tag, raw, mediaType);
  });
  return { references: references.map((r) => r.toString()), digest, mediaType, stats };
}
