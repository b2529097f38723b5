/**
 * The remote cache format: a plain OCI 1.1 image manifest whose config is a wharf cache config
 * ({@link CACHE_CONFIG_MEDIA_TYPE}) and whose layers are the step layers, as tars (digest = diffID),
 * so every registry that stores images stores it. The config lists step records: the step key exactly
 * as the local cache computes it (`stepKey`) → the index of its layer in the manifest, or `null` for a
 * step that made no layer. See docs/remote-cache.md.
 *
 * Encoding is deterministic (records sorted by key, layers by first use), so exporting the same records
 * twice gives the same manifest digest and a registry tag does not move.
 *
 * @example
 * const { manifest, config } = encodeCacheManifest(records);
 * const back = decodeCacheManifest(manifest, config); // the same records
 */
import { gzipSync } from 'node:zlib';
import { WharfError } from '../errors.js';
import { type Descriptor, type Digest, isDigest, MediaType, sha256Digest } from '../oci/index.js';
import type { CachedLayer, StepInputs } from './step-cache.js';

/** The config media type of a wharf cache manifest. */
export const CACHE_CONFIG_MEDIA_TYPE = 'application/vnd.wharf.cache.config.v1+json';
/**
 * The format version written. 2 adds the layer listings (`views`) and the compression scheme of
 * compressed layers (`tars[i].scheme`); a reader reads 1 and 2 and refuses any other.
 */
export const CACHE_FORMAT_VERSION = 2;
const READABLE_VERSIONS: readonly number[] = [1, 2];
/**
 * The media type of the listings blob (v2): gzip of a JSON array with, for each manifest layer, the
 * records of its tar (paths, types, modes, owners, links — no contents; engine/layer-views.ts) or null.
 * The last entry is the listings layer's own: null, or the listings of the exported stages' base image
 * layers ({@link BaseListing}: what a fresh machine needs to plan on the base without unpacking it).
 * A reader that predates base listings takes that entry for a listing no record names, and ignores it.
 */
export const CACHE_VIEWS_MEDIA_TYPE = 'application/vnd.wharf.cache.views.v1+json+gzip';
/** Largest listings document, uncompressed, written or read (a larger one is left out: hits then fetch). */
export const CACHE_VIEWS_LIMIT = 64 * 1024 * 1024;
/** Largest cache config read (about 150 000 records). */
export const CACHE_CONFIG_LIMIT = 16 * 1024 * 1024;

/** One step record: a step key → the layer it made, or null (the step changed nothing). */
export interface CacheRecord {
  /** The step key (hex sha256, `stepKey(inputs)`). */
  readonly key: string;
  readonly layer: CachedLayer | null;
  /**
   * Where the step stands (hex sha256 of its position: stage list, stage, step number — never the
   * machine's paths) and its inputs as `portableInputs` makes them: a miss on another machine at the
   * same position is explained against them.
   */
  readonly at?: string;
  readonly inputs?: StepInputs;
}

/**
 * One exported cache mount (`--cache-to …,mounts=true`): the content of `RUN --mount=type=cache,id=ID`
 * as a tar layer, restored on another machine before the first step that uses the id must run.
 */
export interface CacheMountRecord {
  /** The cache mount's id (its `id=`, or its target path when none is given). */
  readonly id: string;
  readonly layer: CachedLayer;
}

/** Longest cache mount id read. */
const MOUNT_ID_LIMIT = 4096;

/** The config document of a cache manifest. */
interface CacheConfig {
  readonly wharfCache: number;
  /** Present only when mounts were exported, so a cache without them encodes as before. */
  readonly mounts?: readonly { readonly id: string; readonly layer: number }[];
  /**
   * Present only when layers travel compressed (`compression=gzip|zstd`): for each manifest layer,
   * the tar it decompresses to (diffID and size), or null for a layer that is a tar already.
   */
  readonly tars?: readonly ({
    readonly diffId: string;
    readonly size: number;
    readonly scheme?: string;
  } | null)[];
  /** v2: the index of the listings layer ({@link CACHE_VIEWS_MEDIA_TYPE}), when listings were exported. */
  readonly views?: number;
  readonly records: readonly {
    readonly key: string;
    readonly layer: number | null;
    readonly at?: string;
    readonly inputs?: StepInputs;
  }[];
}

/** A cache manifest and its config, as bytes (what is pushed or written), with their digests. */
export interface EncodedCache {
  readonly manifest: Uint8Array;
  readonly manifestDigest: Digest;
  readonly config: Uint8Array;
  readonly configDescriptor: Descriptor;
  /** The layer descriptors, in manifest order. */
  readonly layers: readonly Descriptor[];
  /** How many step records the config lists. */
  readonly records: number;
  /** How many cache mounts it lists. */
  readonly mounts: number;
  /** The listings blob (the last of `layers`), when one was written. */
  readonly views?: Uint8Array;
}

const KEY = /^[0-9a-f]{64}$/;

/**
 * Encodes records into a cache manifest and config. Only tar layers travel (a layer whose digest is
 * its diffID); a record pointing at anything else is left out, since an importer could not use it.
 */
export function encodeCacheManifest(
  records: readonly CacheRecord[],
  mounts: readonly CacheMountRecord[] = [],
  compressed: CompressedForms = new Map(),
  listings: LayerListings = () => undefined,
  bases: readonly BaseListing[] = [],
): EncodedCache {
  const encoded = encodeRecords(records, mounts, compressed, listings, bases);
  // Inputs only explain misses: past half the limit a reader could refuse, they go and the keys stay.
  if (encoded.config.byteLength <= CACHE_CONFIG_LIMIT / 2) return encoded;
  return encodeRecords(
    records.map(({ key, layer }) => ({ key, layer })),
    mounts,
    compressed,
    listings,
    bases,
  );
}

/**
 * A tar layer's compressed form to send instead of the tar, by the tar's digest (its diffID), with
 * the scheme that made it (engine/compress.ts), so an importer whose own scheme is the same can use
 * the blob as its image layer as is.
 */
export type CompressedForms = ReadonlyMap<string, Descriptor & { readonly scheme?: string }>;

/** A step layer's listing (records without contents), by the tar's digest; undefined: none known. */
export type LayerListings = (tarDigest: string) => readonly unknown[] | undefined;

/**
 * A base image layer's listing: the records of the tar `diffId` that the blob `digest` (as the base's
 * registry sends it, usually gzip) holds. Keyed by both, as engine/layer-views.ts keys what it read:
 * a listing says nothing about another blob claiming the same diffID.
 */
export interface BaseListing {
  readonly diffId: Digest;
  readonly digest: Digest;
  readonly records: readonly unknown[];
}

const COMPRESSED_TYPES: readonly string[] = [MediaType.ociLayerGzip, MediaType.ociLayerZstd];

function encodeRecords(
  records: readonly CacheRecord[],
  mounts: readonly CacheMountRecord[],
  compressed: CompressedForms,
  listings: LayerListings,
  bases: readonly BaseListing[],
): EncodedCache {
  const byKey = new Map<string, CacheRecord>();
  for (const record of records) {
    if (!KEY.test(record.key)) continue;
    if (record.layer && record.layer.digest !== record.layer.diffId) continue;
    byKey.set(record.key, record);
  }
  const keys = [...byKey.keys()].sort();
  const layers: Descriptor[] = [];
  const tars: ({ diffId: string; size: number; scheme?: string } | null)[] = [];
  // The descriptor a layer travels as: its compressed form when there is one, else the tar.
  const sent = (layer: CachedLayer): Descriptor => {
    const form = compressed.get(layer.digest);
    const usable = form && COMPRESSED_TYPES.includes(form.mediaType);
    tars.push(
      usable
        ? { diffId: layer.digest, size: layer.size, ...(form.scheme ? { scheme: form.scheme } : {}) }
        : null,
    );
    return usable
      ? { mediaType: form.mediaType, digest: form.digest, size: form.size }
      : { mediaType: MediaType.ociLayer, digest: layer.digest, size: layer.size };
  };
  const indexOf = new Map<string, number>();
  const out: CacheConfig['records'][number][] = [];
  for (const key of keys) {
    const record = byKey.get(key) as CacheRecord;
    const where = record.at && record.inputs ? { at: record.at, inputs: record.inputs } : {};
    const layer = record.layer;
    if (!layer) {
      out.push({ key, layer: null, ...where });
      continue;
    }
    let index = indexOf.get(layer.digest);
    if (index === undefined) {
      index = layers.length;
      indexOf.set(layer.digest, index);
      layers.push(sent(layer));
    }
    out.push({ key, layer: index, ...where });
  }
  // Mounts sorted by id, their layers after the step layers (one shared with a step is listed once).
  const mountsOut: { id: string; layer: number }[] = [];
  const byId = new Map(
    mounts.filter((m) => validMountId(m.id) && m.layer.digest === m.layer.diffId).map((m) => [m.id, m]),
  );
  for (const id of [...byId.keys()].sort()) {
    const layer = (byId.get(id) as CacheMountRecord).layer;
    let index = indexOf.get(layer.digest);
    if (index === undefined) {
      index = layers.length;
      indexOf.set(layer.digest, index);
      layers.push(sent(layer));
    }
    mountsOut.push({ id, layer: index });
  }
  // Step layers' listings (mount layers need none: nothing replays them into a view), after every layer.
  const stepLayers = new Set(out.flatMap((r) => (r.layer === null ? [] : [r.layer])));
  const views = encodeListings(
    layers.map((layer, i) => (stepLayers.has(i) ? listings(tars[i]?.diffId ?? layer.digest) : undefined)),
    bases,
  );
  if (views) {
    layers.push(views.descriptor);
    if (tars.some((t) => t !== null)) tars.push(null);
  }
  const config = new TextEncoder().encode(
    JSON.stringify({
      wharfCache: CACHE_FORMAT_VERSION,
      records: out,
      ...(mountsOut.length > 0 ? { mounts: mountsOut } : {}),
      ...(tars.some((t) => t !== null) ? { tars } : {}),
      ...(views ? { views: layers.length - 1 } : {}),
    } satisfies CacheConfig),
  );
  const configDescriptor: Descriptor = {
    mediaType: CACHE_CONFIG_MEDIA_TYPE,
    digest: sha256Digest(config),
    size: config.byteLength,
  };
  const manifest = new TextEncoder().encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: configDescriptor,
      layers,
      annotations: { 'dev.wharf.cache.records': String(out.length) },
    }),
  );
  return {
    manifest,
    manifestDigest: sha256Digest(manifest),
    config,
    configDescriptor,
    layers,
    records: out.length,
    mounts: mountsOut.length,
    ...(views ? { views: views.bytes } : {}),
  };
}

/**
 * The listings blob: deterministic gzip (no name, mtime 0) of one JSON array. None when no layer has
 * a listing, or when the document would pass {@link CACHE_VIEWS_LIMIT} (a reader would refuse it):
 * the base listings are left out first, then all.
 */
function encodeListings(
  each: readonly (readonly unknown[] | undefined)[],
  bases: readonly BaseListing[],
): { descriptor: Descriptor; bytes: Uint8Array } | undefined {
  if (!each.some((l) => l !== undefined)) return undefined;
  // one entry per manifest layer; the listings layer's own (last): the base listings, sorted, or null
  const sorted = [...new Map(bases.map((b) => [`${b.diffId} ${b.digest}`, b])).values()]
    .sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0))
    .map(({ diffId, digest, records }) => ({ diffId, digest, records }));
  const document = (own: unknown) => JSON.stringify([...each.map((l) => l ?? null), own]);
  let json = document(sorted.length > 0 ? sorted : null);
  if (sorted.length > 0 && Buffer.byteLength(json) > CACHE_VIEWS_LIMIT) json = document(null);
  if (Buffer.byteLength(json) > CACHE_VIEWS_LIMIT) return undefined;
  const bytes = new Uint8Array(gzipSync(json, { level: 6 }));
  return {
    descriptor: { mediaType: CACHE_VIEWS_MEDIA_TYPE, digest: sha256Digest(bytes), size: bytes.byteLength },
    bytes,
  };
}

/** What {@link parseCacheListings} finds in a listings document. */
export interface CacheListings {
  /** Step layers' listings, by the tar's digest. */
  readonly layers: Map<string, readonly unknown[]>;
  /** Base image layers' listings, by `diffID digest` ({@link baseListingKey}). */
  readonly bases: Map<string, readonly unknown[]>;
}

/** How {@link CacheListings.bases} is keyed: the tar's diffID and the blob's digest. */
export const baseListingKey = (diffId: string, digest: string): string => `${diffId} ${digest}`;

/**
 * The listings of a v2 cache's step layers, by tar digest, and of its base image layers, from the
 * gunzipped listings blob (read within {@link CACHE_VIEWS_LIMIT}). Each listing is only checked to be
 * a list here; the engine checks its records before using them. `CACHE_REMOTE_INVALID` when malformed.
 * `viewsIndex`: the listings layer's own index, whose entry holds the base listings.
 */
export function parseCacheListings(
  json: Uint8Array,
  tarDigests: readonly Digest[],
  viewsIndex = tarDigests.length - 1,
): CacheListings {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(json));
  } catch {
    throw invalid('its listings are not JSON');
  }
  if (!Array.isArray(value) || value.length !== tarDigests.length)
    throw invalid('its listings do not match the manifest layers');
  const layers = new Map<string, readonly unknown[]>();
  const bases = new Map<string, readonly unknown[]>();
  value.forEach((listing, i) => {
    if (listing === null) return;
    if (!Array.isArray(listing)) throw invalid(`the listing of layer ${i} is not a list`);
    if (i !== viewsIndex) {
      layers.set(tarDigests[i] as Digest, listing);
      return;
    }
    for (const [j, item] of listing.entries()) {
      const b = item as Partial<Record<keyof BaseListing, unknown>> | null;
      if (
        typeof b !== 'object' ||
        b === null ||
        typeof b.diffId !== 'string' ||
        !isDigest(b.diffId) ||
        typeof b.digest !== 'string' ||
        !isDigest(b.digest) ||
        !Array.isArray(b.records)
      )
        throw invalid(`base listing ${j} is malformed`);
      bases.set(baseListingKey(b.diffId, b.digest), b.records);
    }
  });
  return { layers, bases };
}

/** What {@link parseCacheManifest} finds in manifest bytes: the config to fetch and the layers. */
export interface CacheManifest {
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
}

/** Reads a cache manifest; `CACHE_REMOTE_INVALID` unless it is one (another image, corrupt JSON). */
export function parseCacheManifest(bytes: Uint8Array): CacheManifest {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw invalid('the manifest is not JSON');
  }
  const manifest = value as {
    schemaVersion?: unknown;
    mediaType?: unknown;
    config?: unknown;
    layers?: unknown;
  };
  if (typeof value !== 'object' || value === null || manifest.schemaVersion !== 2)
    throw invalid('not an OCI image manifest');
  if (manifest.mediaType !== undefined && manifest.mediaType !== MediaType.ociManifest)
    throw invalid(`it is ${JSON.stringify(manifest.mediaType)}, not an OCI image manifest`);
  const config = descriptor(manifest.config, 'config');
  if (config.mediaType !== CACHE_CONFIG_MEDIA_TYPE) {
    throw invalid(
      `its config is ${JSON.stringify(config.mediaType)}, not a wharf cache (${CACHE_CONFIG_MEDIA_TYPE})`,
    );
  }
  if (config.size > CACHE_CONFIG_LIMIT)
    throw invalid(`its config is ${config.size} bytes (limit ${CACHE_CONFIG_LIMIT})`);
  if (!Array.isArray(manifest.layers)) throw invalid('the manifest has no layers list');
  const layers = manifest.layers.map((l, i) => {
    const layer = descriptor(l, `layer ${i}`);
    if (
      layer.mediaType !== MediaType.ociLayer &&
      layer.mediaType !== CACHE_VIEWS_MEDIA_TYPE &&
      !COMPRESSED_TYPES.includes(layer.mediaType)
    ) {
      throw invalid(
        `layer ${i} is ${JSON.stringify(layer.mediaType)}; this wharf reads ${[MediaType.ociLayer, ...COMPRESSED_TYPES].join(', ')}`,
      );
    }
    return layer;
  });
  return { config, layers };
}

const validMountId = (id: unknown): id is string =>
  typeof id === 'string' && id.length > 0 && id.length <= MOUNT_ID_LIMIT && !id.includes('\0');

/** The records of a cache config, each layer from the manifest; `CACHE_REMOTE_INVALID` when malformed. */
export function parseCacheConfig(bytes: Uint8Array, manifest: CacheManifest): CacheRecord[] {
  return parseCacheContents(bytes, manifest).records;
}

/** A cache config's step records and cache mounts (`CACHE_REMOTE_INVALID` when malformed). */
export function parseCacheContents(
  bytes: Uint8Array,
  manifest: CacheManifest,
): {
  readonly records: CacheRecord[];
  readonly mounts: CacheMountRecord[];
  /** Each layer's descriptor in the manifest (the tar, or its compressed form), by the tar's digest. */
  readonly transports: ReadonlyMap<string, Descriptor>;
  /** The scheme that made a compressed form (v2), by the tar's digest. */
  readonly schemes: ReadonlyMap<string, string>;
  /** v2: the listings blob to fetch, when the cache has one, and its index among the layers. */
  readonly views?: Descriptor;
  readonly viewsIndex?: number;
  /** The tar digest of each manifest layer (for {@link parseCacheListings}). */
  readonly tarDigests: readonly Digest[];
} {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw invalid('the cache config is not JSON');
  }
  const config = value as Partial<CacheConfig> | null;
  if (typeof config !== 'object' || config === null) throw invalid('the cache config is not an object');
  if (typeof config.wharfCache !== 'number' || !READABLE_VERSIONS.includes(config.wharfCache)) {
    throw invalid(
      `cache format version ${JSON.stringify(config.wharfCache)} (this wharf reads ${READABLE_VERSIONS.join(' and ')})`,
    );
  }
  const viewsIndex = config.wharfCache >= 2 ? config.views : undefined;
  if (
    viewsIndex !== undefined &&
    (typeof viewsIndex !== 'number' || manifest.layers[viewsIndex]?.mediaType !== CACHE_VIEWS_MEDIA_TYPE)
  )
    throw invalid('its views do not name a listings layer');
  // A listings layer is no step layer: a record or mount naming it is malformed.
  const isStepLayer = (index: unknown): index is number =>
    typeof index === 'number' && manifest.layers[index]?.mediaType !== CACHE_VIEWS_MEDIA_TYPE;
  if (!Array.isArray(config.records)) throw invalid('the cache config has no records');
  const tars = tarsOf(config.tars, manifest);
  // Records name the tar (what the local cache stores); a compressed layer is its transport only.
  const layerOf = (index: number): CachedLayer => {
    const sent = manifest.layers[index] as Descriptor;
    const tar = tars[index] ?? { diffId: sent.digest as Digest, size: sent.size };
    return {
      digest: tar.diffId,
      diffId: tar.diffId,
      size: tar.size,
      mediaType: MediaType.ociLayer,
      uncompressedSize: tar.size,
    };
  };
  if (config.mounts !== undefined && !Array.isArray(config.mounts))
    throw invalid('its mounts are not a list');
  const mounts = (config.mounts ?? []).map((mount, i): CacheMountRecord => {
    const m = mount as { id?: unknown; layer?: unknown } | null;
    if (typeof m !== 'object' || m === null || !validMountId(m.id))
      throw invalid(`mount ${i} has no valid id`);
    if (!isStepLayer(m.layer) || !manifest.layers[m.layer])
      throw invalid(`mount ${i} names layer ${JSON.stringify(m.layer)}, which the manifest lacks`);
    return { id: m.id, layer: layerOf(m.layer) };
  });
  const records = config.records.map((record, i): CacheRecord => {
    const r = record as { key?: unknown; layer?: unknown; at?: unknown; inputs?: unknown } | null;
    if (typeof r !== 'object' || r === null || typeof r.key !== 'string' || !KEY.test(r.key))
      throw invalid(`record ${i} has no valid key`);
    // inputs only explain misses: ones that are malformed are dropped, the record stays
    const where =
      typeof r.at === 'string' && KEY.test(r.at) && isStepInputs(r.inputs)
        ? { at: r.at, inputs: r.inputs }
        : {};
    if (r.layer === null) return { key: r.key, layer: null, ...where };
    if (!isStepLayer(r.layer) || !manifest.layers[r.layer])
      throw invalid(`record ${i} names layer ${JSON.stringify(r.layer)}, which the manifest lacks`);
    return { key: r.key, layer: layerOf(r.layer), ...where };
  });
  const schemes = new Map<string, string>();
  for (const tar of tars) if (tar?.scheme) schemes.set(tar.diffId, tar.scheme);
  return {
    records,
    mounts,
    transports: transportsOf(manifest, tars),
    schemes,
    ...(viewsIndex !== undefined ? { views: manifest.layers[viewsIndex] as Descriptor, viewsIndex } : {}),
    tarDigests: manifest.layers.map((layer, i) => tars[i]?.diffId ?? layer.digest),
  };
}

/** The `tars` list of a config, checked: one entry per compressed manifest layer, none for a tar. */
function tarsOf(
  value: unknown,
  manifest: CacheManifest,
): ({ diffId: Digest; size: number; scheme?: string } | null)[] {
  if (value !== undefined && (!Array.isArray(value) || value.length !== manifest.layers.length))
    throw invalid('its tars list does not match the manifest layers');
  return manifest.layers.map((layer, i) => {
    const t = (value as unknown[] | undefined)?.[i] as
      | { diffId?: unknown; size?: unknown; scheme?: unknown }
      | null
      | undefined;
    if (layer.mediaType === MediaType.ociLayer || layer.mediaType === CACHE_VIEWS_MEDIA_TYPE) {
      if (t) throw invalid(`layer ${i} is a tar but the config names another tar for it`);
      return null;
    }
    if (
      typeof t !== 'object' ||
      t === null ||
      typeof t.diffId !== 'string' ||
      !isDigest(t.diffId) ||
      !t.diffId.startsWith('sha256:') ||
      typeof t.size !== 'number' ||
      !Number.isSafeInteger(t.size) ||
      t.size < 0
    )
      throw invalid(`compressed layer ${i} has no tar (diffID and size) in the config`);
    // the scheme only decides whether the blob may stand for a fresh build's own: a bad one is dropped
    const scheme = typeof t.scheme === 'string' && t.scheme.length <= 200 ? { scheme: t.scheme } : {};
    return { diffId: t.diffId as Digest, size: t.size, ...scheme };
  });
}

/** How each tar layer (by diffID) travels: the manifest descriptor to fetch. */
function transportsOf(
  manifest: CacheManifest,
  tars: readonly ({ diffId: Digest; size: number } | null)[],
): Map<string, Descriptor> {
  return new Map(manifest.layers.map((layer, i) => [tars[i]?.diffId ?? layer.digest, layer]));
}

const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((e) => typeof e === 'string');

/** Whether `value` has the shape of {@link StepInputs} (what `explainDifference` reads). */
function isStepInputs(value: unknown): value is StepInputs {
  const v = value as Partial<Record<keyof StepInputs, unknown>> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.parent === 'string' &&
    typeof v.parentIsBase === 'boolean' &&
    typeof v.config === 'string' &&
    isStrings(v.args) &&
    typeof v.instruction === 'string' &&
    typeof v.files === 'object' &&
    v.files !== null &&
    !Array.isArray(v.files) &&
    Object.values(v.files).every((f) => typeof f === 'string') &&
    (v.secrets === undefined || isStrings(v.secrets)) &&
    typeof v.epoch === 'number'
  );
}

/** Both halves: manifest and config bytes → records. */
export function decodeCacheManifest(manifest: Uint8Array, config: Uint8Array): CacheRecord[] {
  const parsed = parseCacheManifest(manifest);
  if (sha256Digest(config) !== parsed.config.digest)
    throw invalid('the cache config does not match its digest');
  return parseCacheConfig(config, parsed);
}

function descriptor(value: unknown, what: string): Descriptor {
  const d = value as Partial<Descriptor> | null;
  if (
    typeof d !== 'object' ||
    d === null ||
    typeof d.mediaType !== 'string' ||
    typeof d.digest !== 'string' ||
    !isDigest(d.digest) ||
    !d.digest.startsWith('sha256:') ||
    typeof d.size !== 'number' ||
    !Number.isSafeInteger(d.size) ||
    d.size < 0
  )
    throw invalid(`its ${what} descriptor is malformed`);
  return { mediaType: d.mediaType, digest: d.digest, size: d.size };
}

function invalid(reason: string): WharfError {
  return new WharfError('CACHE_REMOTE_INVALID', `not a usable wharf cache: ${reason}`, {
    hint: 'export the cache again with --cache-to (an older or newer wharf, or another tool, wrote this one)',
  });
}
