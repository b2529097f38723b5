/**
 * Exporting and importing the step cache through a registry or a directory (`--cache-to`,
 * `--cache-from`), in the format of remote-format.ts.
 *
 * Import reads the manifest and the records only; a layer's blob is downloaded into the store when a
 * step that hits needs it (`CacheSource.fetch`, called by `StepCache.available`). Export writes the
 * blobs first and the manifest last: a registry tag, or a directory's `index.json` (temp file and
 * rename), only ever points at a complete cache. Nothing here is fatal to a build: the engine turns
 * every error into a warning naming the ref and the reason.
 *
 * @example
 * const spec = parseCacheSpec('type=registry,ref=registry.example.com/app:cache,mode=max', 'to');
 * await exportCache(spec, records, { store });
 * const source = await importCache(parseCacheSpec('type=registry,ref=registry.example.com/app:cache', 'from'), { store });
 */
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { WharfError } from '../errors.js';
import { isNotFound, writeFileAtomic } from '../fsutil/files.js';
import { type CompressionSpec, normalizeCompression } from '../image/compression.js';
import { layerFromStore } from '../image/partial.js';
import { decompress, readAll, verified } from '../image/stream.js';
import type { Image, Layer } from '../image/types.js';
import {
  type Descriptor,
  type Digest,
  isDigest,
  MediaType,
  parseReference,
  sha256Digest,
} from '../oci/index.js';
import { MANIFEST_LIMIT, RegistryClient, type RegistryOptions } from '../registry/client.js';
import { type PushStats, pushImage } from '../registry/push.js';
import type { BlobStore } from '../store/store.js';
import {
  type BaseListing,
  baseListingKey,
  CACHE_VIEWS_LIMIT,
  type CacheListings,
  type CacheMountRecord,
  type CacheRecord,
  type CompressedForms,
  type EncodedCache,
  encodeCacheManifest,
  type LayerListings,
  parseCacheContents,
  parseCacheListings,
  parseCacheManifest,
} from './remote-format.js';
import { type CachedLayer, parseSize, type StepInputs } from './step-cache.js';

/** Where a cache goes or comes from: `type=registry,ref=REF` or `type=local,dest=DIR` / `src=DIR`. */
export type CacheSpec =
  | ({ readonly type: 'registry'; readonly ref: string } & CacheExportOptions)
  | ({ readonly type: 'local'; readonly dir: string } & CacheExportOptions);

/** What a `--cache-to` exports besides the step records (ignored by `--cache-from`). */
export interface CacheExportOptions {
  readonly mode?: CacheMode;
  /**
   * `mounts=true`: export the content of every cache mount (`RUN --mount=type=cache`) the exported
   * steps use; `mounts=ID` or `"mounts=ID,ID"` (CSV-quoted, as buildx quotes lists): only those ids.
   */
  readonly mounts?: true | readonly string[];
  /**
   * `mount-limit=SIZE`: most bytes of file content exported per cache mount id (default
   * {@link DEFAULT_MOUNT_LIMIT}); past it, the least recently used files stay behind.
   */
  readonly mountLimit?: number;
  /**
   * `compression=gzip|zstd[,compression-level=N]`: layers travel compressed (made once per layer and
   * kept in the store, as an image output's); default uncompressed tars.
   */
  readonly compression?: CompressionSpec;
}

/** The default `mount-limit`: 1 GiB per cache mount id. */
export const DEFAULT_MOUNT_LIMIT = 2 ** 30;

/** `min`: the target's steps (the stages its image is made of); `max`: every step of every stage built. */
export type CacheMode = 'min' | 'max';

/**
 * The repositories of `registry` that imported caches (`type=registry` specs, as given to `--cache-from`)
 * are in: a push to that registry can mount their layers instead of fetching and re-uploading them.
 *
 * @example
 * cacheRepositories(['registry.lan/app/cache:main'], 'registry.lan'); // ['app/cache']
 */
export function cacheRepositories(caches: readonly (CacheSpec | string)[], registry: string): string[] {
  const repositories = caches.flatMap((c) => {
    const spec = typeof c === 'string' ? parseCacheSpec(c, 'from') : c;
    if (spec.type !== 'registry') return [];
    const source = parseReference(spec.ref);
    return source.registry === registry ? [source.repository] : [];
  });
  return [...new Set(repositories)];
}

/**
 * Parses a buildx-style `--cache-to` / `--cache-from` value: `type=registry,ref=REF[,mode=min|max]`,
 * `type=local,dest=DIR` (to) or `type=local,src=DIR` (from). A bare `REF` means `type=registry,ref=REF`.
 *
 * @example
 * parseCacheSpec('type=local,dest=.cache/wharf', 'to'); // { type: 'local', dir: '.cache/wharf' }
 */
export function parseCacheSpec(text: string, direction: 'to' | 'from'): CacheSpec {
  const flag = direction === 'to' ? '--cache-to' : '--cache-from';
  const fields = new Map<string, string>();
  if (!text.includes('=')) return { type: 'registry', ref: text };
  for (const part of splitFields(text)) {
    const at = part.indexOf('=');
    if (at <= 0) throw badSpec(flag, text, `"${part}" is not key=value`);
    fields.set(part.slice(0, at).trim(), part.slice(at + 1).trim());
  }
  const type = fields.get('type') ?? 'registry';
  const mode = fields.get('mode');
  if (mode !== undefined && mode !== 'min' && mode !== 'max')
    throw badSpec(flag, text, `mode must be min or max`);
  const exportFields =
    direction === 'to' ? ['mode', 'mounts', 'mount-limit', 'compression', 'compression-level'] : ['mode'];
  const known =
    type === 'registry'
      ? ['type', 'ref', ...exportFields]
      : type === 'local'
        ? ['type', direction === 'to' ? 'dest' : 'src', ...exportFields]
        : [];
  if (known.length === 0) throw badSpec(flag, text, `type must be registry or local, not "${type}"`);
  const unknown = [...fields.keys()].filter((k) => !known.includes(k));
  if (unknown.length > 0) {
    throw badSpec(
      flag,
      text,
      `unknown field${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (type=${type} takes ${known.join(', ')})`,
    );
  }
  const mountsText = fields.get('mounts');
  const mounts =
    mountsText === undefined || mountsText === 'false'
      ? undefined
      : mountsText === 'true'
        ? (true as const)
        : [...new Set(mountsText.split(',').map((id) => id.trim()))];
  if (Array.isArray(mounts) && mounts.some((id) => id === '' || id.includes('\0')))
    throw badSpec(flag, text, 'mounts must be true, false, or cache mount ids ("mounts=npm,apt-cache")');
  const limitText = fields.get('mount-limit');
  let mountLimit: number | undefined;
  if (limitText !== undefined) {
    try {
      mountLimit = parseSize(limitText);
    } catch {
      throw badSpec(flag, text, `mount-limit must be a size such as 512MB or 2GiB, not "${limitText}"`);
    }
  }
  const format = fields.get('compression');
  if (format !== undefined && !['uncompressed', 'gzip', 'zstd'].includes(format))
    throw badSpec(flag, text, `compression must be uncompressed, gzip or zstd, not "${format}"`);
  const levelText = fields.get('compression-level');
  if (levelText !== undefined && (format === undefined || format === 'uncompressed'))
    throw badSpec(flag, text, 'compression-level needs compression=gzip or zstd');
  let compression: CompressionSpec | undefined;
  if (format === 'gzip' || format === 'zstd') {
    try {
      compression = normalizeCompression({
        format,
        ...(levelText !== undefined ? { level: Number(levelText) } : {}),
      });
    } catch (error) {
      throw badSpec(flag, text, (error as Error).message);
    }
  }
  const withMode = {
    ...(compression ? { compression } : {}),
    ...(mode ? { mode: mode as CacheMode } : {}),
    ...(mounts ? { mounts } : {}),
    ...(mountLimit !== undefined ? { mountLimit } : {}),
  };
  if (type === 'registry') {
    const ref = fields.get('ref');
    if (!ref) throw badSpec(flag, text, 'type=registry needs ref=REF');
    parseReference(ref); // a bad reference fails now, naming it
    return { type, ref, ...withMode };
  }
  const key = direction === 'to' ? 'dest' : 'src';
  const dir = fields.get(key);
  if (!dir) throw badSpec(flag, text, `type=local needs ${key}=DIR`);
  return { type: 'local', dir, ...withMode };
}

/**
 * A spec's comma-separated fields, CSV-style as buildx reads them: a comma inside double quotes
 * belongs to the field (`"mounts=npm,apt"` or `mounts="npm,apt"`), `""` inside quotes is a quote.
 */
function splitFields(text: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '"') {
      if (quoted && text[i + 1] === '"') {
        field += '"';
        i++;
      } else quoted = !quoted;
    } else if (c === ',' && !quoted) {
      fields.push(field);
      field = '';
    } else field += c;
  }
  fields.push(field);
  return fields;
}

function badSpec(flag: string, text: string, reason: string): WharfError {
  return new WharfError('CACHE_BAD_SPEC', `${flag} ${JSON.stringify(text)}: ${reason}`, {
    hint: `write ${flag} type=registry,ref=registry.example.com/app:cache or type=local,${flag === '--cache-to' ? 'dest' : 'src'}=DIR`,
  });
}

/** How a spec is named in warnings: the ref or the directory. */
export function describeCacheSpec(spec: CacheSpec): string {
  return spec.type === 'registry' ? spec.ref : `local:${spec.dir}`;
}

/** An imported cache: its records, and how to bring a layer's blob into the store. */
export interface CacheSource {
  /** The ref or directory, for warnings. */
  readonly name: string;
  /** Step key → its layer (null: the step made none). */
  readonly records: ReadonlyMap<string, CachedLayer | null>;
  /** The layer digests the records name. */
  readonly digests: ReadonlySet<string>;
  /** The records that say where their step stands (`portablePosition`), by position. */
  readonly positions: ReadonlyMap<string, { readonly key: string; readonly inputs: StepInputs }>;
  /** Exported cache mounts: mount id → the layer holding its content. */
  readonly mounts: ReadonlyMap<string, CachedLayer>;
  /** Downloads (or copies) `layer`'s blob into the store, verified against its digest and size. */
  fetch(layer: CachedLayer): Promise<void>;
  /**
   * Step layers' listings (format v2): what replaying a hit into a stage's view needs, so a hit costs
   * no download. By the tar's digest; unchecked records (the engine checks them).
   */
  readonly listings: ReadonlyMap<string, readonly unknown[]>;
  /**
   * The listing of a base image layer — the tar `diffId` as the blob `digest` holds it — that the
   * exporting build knew (unchecked records, as {@link listings}): a stage FROM that image is planned
   * without unpacking it.
   */
  baseListing(diffId: string, digest: string): readonly unknown[] | undefined;
  /** How `layer` travels in this cache: its compressed form and the scheme that made it, if any. */
  form(layer: CachedLayer): { readonly descriptor: Descriptor; readonly scheme?: string } | undefined;
  /**
   * Brings `layer`'s compressed form into the store as it travels (verified against its digest, and
   * its tar against the layer's), without keeping the tar: for an image output that uses it as is.
   */
  fetchForm(layer: CachedLayer): Promise<void>;
  /** Whether the cache still holds `layer`'s blob (a HEAD request, or a stat): metadata only. */
  holds(layer: CachedLayer): Promise<boolean>;
  /** Releases connections. */
  close(): Promise<void>;
}

/** What import and export need. */
export interface RemoteCacheOptions {
  readonly store: BlobStore;
  /** Registry settings (mirrors, insecure hosts, credentials) for `type=registry`. */
  readonly registry?: RegistryOptions;
  /**
   * Export: repositories of the target registry to cross-repository-mount layers from (the caches
   * imported from there), so a layer that came from one is not uploaded again.
   */
  readonly mountFrom?: readonly string[];
  /** Export: each step layer's listing, for the cache's listings blob (format v2). */
  readonly listings?: LayerListings;
  /** Export: the listings of the exported stages' base image layers, for the same blob. */
  readonly bases?: readonly BaseListing[];
  /**
   * Export: brings a blob the cache sends into the store before it is read (a layer imported lazily
   * has none there yet); called only for blobs the destination lacks.
   */
  readonly ensure?: (descriptor: Descriptor) => Promise<void>;
}

/** Reads a cache's manifest and records; layers are fetched later, through {@link CacheSource.fetch}. */
export async function importCache(spec: CacheSpec, options: RemoteCacheOptions): Promise<CacheSource> {
  return spec.type === 'registry'
    ? importFromRegistry(spec.ref, options)
    : importFromDirectory(spec.dir, options);
}

/** What {@link exportCache} wrote. */
export interface ExportedCache {
  /** The cache manifest's digest. */
  readonly digest: Digest;
  readonly records: number;
  readonly layers: number;
  /** Cache mounts exported. */
  readonly mounts: number;
  /** For `type=registry`: blobs uploaded, already there, or mounted from another repository. */
  readonly pushed?: PushStats;
}

/**
 * Writes `records` and `mounts` (their layers from the store) as a cache; the manifest digest is
 * returned.
 */
export async function exportCache(
  spec: CacheSpec,
  records: readonly CacheRecord[],
  options: RemoteCacheOptions,
  mounts: readonly CacheMountRecord[] = [],
  compressed: CompressedForms = new Map(),
): Promise<ExportedCache> {
  const encoded = encodeCacheManifest(records, mounts, compressed, options.listings, options.bases);
  // The listings blob travels like a layer: from the store.
  if (encoded.views) await options.store.put(encoded.views);
  const done = {
    digest: encoded.manifestDigest,
    records: encoded.records,
    layers: encoded.layers.length - (encoded.views ? 1 : 0), // step and mount layers, not the listings
    mounts: encoded.mounts,
  };
  if (spec.type === 'local') {
    await writeCacheDirectory(resolve(spec.dir), encoded, options.store, options.ensure);
    return done;
  }
  const pushed = await pushImage(cacheImage(encoded, options.store, options.ensure), spec.ref, {
    ...options.registry,
    ...(options.mountFrom?.length ? { mountFrom: options.mountFrom } : {}),
  });
  return { ...done, pushed: pushed.stats };
}

/** How a source reaches its blobs. */
interface BlobAccess {
  open(descriptor: Descriptor): Promise<Readable>;
  holds(descriptor: Descriptor): Promise<boolean>;
  close(): Promise<void>;
}

/** The listings of a v2 cache, read within {@link CACHE_VIEWS_LIMIT} (none for a v1 cache). */
async function readListings(contents: ParsedContents, access: BlobAccess): Promise<CacheListings> {
  if (!contents.views) return { layers: new Map(), bases: new Map() };
  const blob = verified(await access.open(contents.views), {
    digest: contents.views.digest,
    size: contents.views.size,
    what: `cache listings ${contents.views.digest}`,
  });
  const json = await readAll(
    decompress(blob, MediaType.ociLayerGzip),
    CACHE_VIEWS_LIMIT,
    'the cache listings',
  );
  return parseCacheListings(json, contents.tarDigests, contents.viewsIndex);
}

type ParsedContents = ReturnType<typeof parseCacheContents>;

async function sourceOf(
  name: string,
  contents: ParsedContents,
  access: BlobAccess,
  store: BlobStore,
): Promise<CacheSource> {
  const { records, mounts } = contents;
  const listings = await readListings(contents, access);
  const fetch = async (layer: CachedLayer) => {
    const sent = transportOf(contents.transports, layer);
    await putLayer(store, await access.open(sent), layer, sent);
  };
  const fetchForm = async (layer: CachedLayer) => {
    const sent = transportOf(contents.transports, layer);
    if (sent.digest === layer.digest) return fetch(layer);
    await putForm(store, await access.open(sent), layer, sent);
  };
  const digests = new Set([
    ...records.flatMap((r) => (r.layer ? [r.layer.digest] : [])),
    ...mounts.map((m) => m.layer.digest),
  ]);
  const positions = new Map(
    records.flatMap((r) => (r.at && r.inputs ? [[r.at, { key: r.key, inputs: r.inputs }] as const] : [])),
  );
  return {
    name,
    records: new Map(records.map((r) => [r.key, r.layer])),
    digests,
    positions,
    mounts: new Map(mounts.map((m) => [m.id, m.layer])),
    fetch,
    listings: listings.layers,
    baseListing: (diffId, digest) => listings.bases.get(baseListingKey(diffId, digest)),
    form: (layer) => {
      const descriptor = contents.transports.get(layer.digest);
      if (!descriptor || descriptor.digest === layer.digest) return undefined;
      const scheme = contents.schemes.get(layer.digest);
      return { descriptor, ...(scheme ? { scheme } : {}) };
    },
    fetchForm,
    holds: (layer) => access.holds(transportOf(contents.transports, layer)),
    close: () => access.close(),
  };
}

async function importFromRegistry(ref: string, options: RemoteCacheOptions): Promise<CacheSource> {
  const reference = parseReference(ref);
  const client = new RegistryClient(reference.registry, options.registry ?? {});
  try {
    const repo = client.repository(reference.repository, 'pull');
    const fetched = await repo.fetchManifest(reference.digest ?? reference.tag ?? 'latest');
    const manifest = parseCacheManifest(fetched.bytes);
    const config = await readVerified(await repo.fetchBlob(manifest.config), manifest.config);
    const contents = parseCacheContents(config, manifest);
    let closed = false;
    const access: BlobAccess = {
      open: async (descriptor) => {
        if (!closed) return repo.fetchBlob(descriptor);
        // After the build (an output reading a lazy hit): a client of its own, closed with the stream.
        const late = new RegistryClient(reference.registry, options.registry ?? {});
        try {
          const stream = await late.repository(reference.repository, 'pull').fetchBlob(descriptor);
          stream.once('close', () => void late.close().catch(() => {}));
          return stream;
        } catch (error) {
          await late.close();
          throw error;
        }
      },
      holds: async (descriptor) => (await repo.checkExistingBlob(descriptor.digest)) === descriptor.size,
      close: () => {
        closed = true;
        return client.close();
      },
    };
    return await sourceOf(ref, contents, access, options.store);
  } catch (error) {
    await client.close();
    throw error;
  }
}

/** A cache directory's blob, by digest (checked, so a hostile manifest cannot name a path outside it). */
function blobFile(dir: string, digest: string): string {
  if (!isDigest(digest))
    throw new WharfError(
      'CACHE_REMOTE_INVALID',
      `not a usable wharf cache: bad digest ${JSON.stringify(digest)}`,
    );
  const [algorithm, hex] = digest.split(':') as [string, string];
  return join(dir, 'blobs', algorithm, hex);
}

async function importFromDirectory(dir: string, options: RemoteCacheOptions): Promise<CacheSource> {
  const root = resolve(dir);
  let indexBytes: Buffer;
  try {
    indexBytes = await readAll(createReadStream(join(root, 'index.json')), 1024 * 1024, 'index.json');
  } catch (error) {
    if (isNotFound(error)) {
      throw new WharfError('CACHE_REMOTE_MISSING', `no cache in ${root} (no index.json)`, {
        hint: 'the first build with --cache-to type=local,dest=DIR writes it',
      });
    }
    throw error;
  }
  let index: { manifests?: unknown };
  try {
    index = JSON.parse(indexBytes.toString('utf8'));
  } catch {
    throw new WharfError('CACHE_REMOTE_INVALID', `not a usable wharf cache: ${root}/index.json is not JSON`);
  }
  const descriptors = Array.isArray(index.manifests) ? (index.manifests as Descriptor[]) : [];
  const pointer = descriptors.find((d) => d?.mediaType === MediaType.ociManifest);
  if (!pointer || typeof pointer.size !== 'number' || pointer.size > MANIFEST_LIMIT) {
    throw new WharfError(
      'CACHE_REMOTE_INVALID',
      `not a usable wharf cache: ${root}/index.json lists no image manifest (of at most 4 MiB)`,
    );
  }
  const open = async (d: Descriptor) => createReadStream(blobFile(root, d.digest));
  const manifestBytes = await readVerified(await open(pointer), pointer);
  const manifest = parseCacheManifest(manifestBytes);
  const contents = parseCacheContents(
    await readVerified(await open(manifest.config), manifest.config),
    manifest,
  );
  const access: BlobAccess = {
    open: async (descriptor) => createReadStream(blobFile(root, descriptor.digest)),
    holds: (descriptor) =>
      stat(blobFile(root, descriptor.digest)).then(
        (s) => s.size === descriptor.size,
        () => false,
      ),
    close: async () => {},
  };
  return sourceOf(`local:${dir}`, contents, access, options.store);
}

/** How `layer` (a tar) travels in a cache: its manifest descriptor. */
function transportOf(transports: ReadonlyMap<string, Descriptor>, layer: CachedLayer): Descriptor {
  return (
    transports.get(layer.digest) ?? { mediaType: layer.mediaType, digest: layer.digest, size: layer.size }
  );
}

/**
 * A layer's tar into the store, from the blob `sent` (the tar, or its gzip/zstd form: checked against
 * its own digest, then decompressed and checked against the tar's). A source that sends more bytes
 * than described is cut off at once.
 */
async function putLayer(
  store: BlobStore,
  source: Readable,
  layer: CachedLayer,
  sent: Descriptor,
): Promise<void> {
  const what = `cache layer ${layer.digest}`;
  const blob = verified(source, { digest: sent.digest, size: sent.size, what: `cache blob ${sent.digest}` });
  if (sent.digest === layer.digest) {
    await store.put(blob, { expected: layer.digest, size: layer.size });
    return;
  }
  // The compressed form is kept too (an image output of the layer may use it as is), then unpacked.
  await store.put(blob, { expected: sent.digest, size: sent.size });
  const tar = decompress(await store.open(sent.digest), sent.mediaType);
  await store.put(verified(tar, { digest: layer.digest, size: layer.size, what }), {
    expected: layer.digest,
    size: layer.size,
  });
}

/**
 * A layer's compressed form into the store as it travels: checked against its digest, and (read back
 * and decompressed) its tar against the layer's digest, so the form stands for the tar. On a mismatch
 * the form is deleted again.
 */
async function putForm(
  store: BlobStore,
  source: Readable,
  layer: CachedLayer,
  sent: Descriptor,
): Promise<void> {
  const blob = verified(source, { digest: sent.digest, size: sent.size, what: `cache blob ${sent.digest}` });
  await store.put(blob, { expected: sent.digest, size: sent.size });
  try {
    const tar = verified(decompress(await store.open(sent.digest), sent.mediaType), {
      digest: layer.digest,
      size: layer.size,
      what: `cache layer ${layer.digest}`,
    });
    for await (const _ of tar); // read to the end: the verifier checks at the end
  } catch (error) {
    await store.delete(sent.digest);
    throw error;
  }
}

/** A small blob (manifest, config), read within its descriptor's size and checked against its digest. */
async function readVerified(stream: Readable, descriptor: Descriptor): Promise<Uint8Array> {
  const bytes = await readAll(stream, descriptor.size, descriptor.digest);
  if (bytes.byteLength !== descriptor.size || sha256Digest(bytes) !== descriptor.digest) {
    throw new WharfError(
      'CACHE_REMOTE_INVALID',
      `not a usable wharf cache: blob ${descriptor.digest} does not match its digest`,
      {
        hint: 'export the cache again with --cache-to',
      },
    );
  }
  return new Uint8Array(bytes);
}

/**
 * The cache as an Image value for `pushImage` (manifest and config as encoded; layers from the store,
 * each brought there by `ensure` first when the push reads it).
 */
function cacheImage(
  encoded: EncodedCache,
  store: BlobStore,
  ensure: (descriptor: Descriptor) => Promise<void> = async () => {},
): Image {
  const layers: Layer[] = encoded.layers.map((d) => {
    const stored = layerFromStore(store, {
      digest: d.digest,
      diffId: d.digest,
      size: d.size,
      mediaType: d.mediaType,
    });
    return {
      ...stored,
      compressed: async () => {
        await ensure(d);
        return stored.compressed();
      },
      uncompressed: async () => {
        await ensure(d);
        return stored.uncompressed();
      },
    };
  });
  return {
    mediaType: async () => MediaType.ociManifest,
    manifest: async () => JSON.parse(new TextDecoder().decode(encoded.manifest)),
    rawManifest: async () => encoded.manifest,
    digest: async () => encoded.manifestDigest,
    config: async () => {
      throw new WharfError('CACHE_NOT_AN_IMAGE', 'a cache manifest has no image config');
    },
    rawConfig: async () => encoded.config,
    configDescriptor: async () => encoded.configDescriptor,
    layers: async () => layers,
  };
}

/**
 * Writes the cache as an OCI image layout in `dir`: blobs first (each a temp file renamed onto its
 * digest; ones already there are kept), `index.json` last and atomically, so a reader sees the old
 * cache or the new one. Blobs of older exports stay (a later export may share them).
 */
async function writeCacheDirectory(
  dir: string,
  encoded: EncodedCache,
  store: BlobStore,
  ensure: (descriptor: Descriptor) => Promise<void> = async () => {},
): Promise<void> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  const present = async (path: string, size: number) =>
    stat(path).then(
      (s) => s.size === size,
      () => false,
    );
  for (const layer of encoded.layers) {
    const path = blobFile(dir, layer.digest);
    if (await present(path, layer.size)) continue;
    await ensure(layer);
    const temp = `${path}.${process.pid}.${randomUUID()}.tmp`;
    try {
      await copyFile(store.path(layer.digest), temp);
      await rename(temp, path);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }
  for (const [digest, bytes] of [
    [encoded.configDescriptor.digest, encoded.config],
    [encoded.manifestDigest, encoded.manifest],
  ] as const) {
    const path = blobFile(dir, digest);
    if (!(await present(path, bytes.byteLength))) await writeFileAtomic(path, bytes);
  }
  await writeFileAtomic(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const index = {
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: [
      {
        mediaType: MediaType.ociManifest,
        digest: encoded.manifestDigest,
        size: encoded.manifest.byteLength,
        annotations: { 'org.opencontainers.image.ref.name': 'cache' },
      },
    ],
  };
  await writeFileAtomic(join(dir, 'index.json'), JSON.stringify(index));
}
