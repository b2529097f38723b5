/**
 * Implement the natural half, derive the rest (go-containerregistry's `partial`): each medium supplies
 * the little it knows — a blob opener and what its descriptor says, or a manifest and a blob opener, or
 * a config and layers — and these helpers turn it into a full {@link Layer} or {@link Image}.
 *
 * What is unknown is computed at most once, by streaming: a compressed layer's diffID comes from one
 * pass that hashes the compressed bytes and, through a decompressor, the tar (so digest, size, diffID
 * and the tar's length are all learnt together, in constant memory, and never recomputed).
 */
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  createDigester,
  type Descriptor,
  type Digest,
  descriptorOf,
  encodeJson,
  type ImageConfig,
  type ImageManifest,
  isIndex,
  layerCompression,
  MediaType,
  parseDigest,
  sha256Digest,
} from '../oci/index.js';
import { ImageError } from './errors.js';
import {
  assertDecompressible,
  CONFIG_LIMIT,
  decompress,
  decompressor,
  readAll,
  tooLarge,
  verified,
} from './stream.js';
import type { BlobOpener, BlobReader, Image, ImageIndex, Layer, MediaTypeFlavor } from './types.js';

/** What a store (or any medium) knows about a layer blob it holds. */
export interface LayerInfo {
  readonly digest: Digest;
  readonly diffId: Digest;
  readonly size: number;
  readonly mediaType: string;
  /** The tar's length, when known (saves a counting pass for docker-archive output). */
  readonly uncompressedSize?: number;
}

/** A layer whose compressed blob sits in a content-addressed store and whose diffID is known. */
export function layerFromStore(store: BlobReader, info: LayerInfo): Layer {
  return layerFromOpener(() => store.open(info.digest), info);
}

/** What the caller already knows about a layer blob; the rest is computed on demand. */
export interface OpenerLayerOptions {
  /** Default `application/vnd.oci.image.layer.v1.tar+gzip`. */
  readonly mediaType?: string;
  readonly digest?: Digest;
  readonly size?: number;
  readonly diffId?: Digest;
  readonly uncompressedSize?: number;
}

interface LayerFacts {
  readonly digest: Digest;
  readonly size: number;
  readonly diffId: Digest;
  readonly uncompressedSize: number;
}

/**
 * A layer from a function that (re)opens its blob as stored (compressed by `mediaType`; an
 * uncompressed media type makes digest and diffID the same). Missing facts (digest, size, diffID, tar
 * length) are learnt together in one streaming pass, memoised; given facts are trusted until that
 * pass runs, and a pass that contradicts them fails with `IMAGE_DIGEST_MISMATCH`.
 */
export function layerFromOpener(open: () => Promise<Readable>, options: OpenerLayerOptions = {}): Layer {
  return new OpenerLayer(open, options);
}

class OpenerLayer implements Layer {
  readonly #open: () => Promise<Readable>;
  readonly #options: OpenerLayerOptions;
  readonly #mediaType: string;
  readonly #plain: boolean;
  #facts: Promise<LayerFacts> | undefined;

  constructor(open: () => Promise<Readable>, options: OpenerLayerOptions) {
    this.#open = open;
    this.#options = options;
    this.#mediaType = options.mediaType ?? MediaType.ociLayerGzip;
    this.#plain = layerCompression(this.#mediaType) === 'none';
    assertDecompressible(this.#mediaType); // unsupported compression fails early
  }

  async digest(): Promise<Digest> {
    return (
      this.#options.digest ?? (this.#plain ? this.#options.diffId : undefined) ?? (await this.#learn()).digest
    );
  }

  async diffId(): Promise<Digest> {
    return (
      this.#options.diffId ?? (this.#plain ? this.#options.digest : undefined) ?? (await this.#learn()).diffId
    );
  }

  async size(): Promise<number> {
    const known = this.#options.size ?? (this.#plain ? this.#options.uncompressedSize : undefined);
    return known ?? (await this.#learn()).size;
  }

  async uncompressedSize(): Promise<number> {
    const known = this.#options.uncompressedSize ?? (this.#plain ? this.#options.size : undefined);
    return known ?? (await this.#learn()).uncompressedSize;
  }

  async mediaType(): Promise<string> {
    return this.#mediaType;
  }

  compressed(): Promise<Readable> {
    return this.#open();
  }

  async uncompressed(): Promise<Readable> {
    return decompress(await this.#open(), this.#mediaType);
  }

  #learn(): Promise<LayerFacts> {
    this.#facts ??= this.#measure();
    return this.#facts;
  }

  async #measure(): Promise<LayerFacts> {
    const outer = createDigester();
    const inner = createDigester();
    const source = await this.#open();
    const tap = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        inner.update(chunk);
        callback();
      },
    });
    const hashOuter = async function* (chunks: AsyncIterable<Buffer>) {
      for await (const chunk of chunks) {
        outer.update(chunk);
        yield chunk;
      }
    };
    const transform = this.#plain ? undefined : decompressor(this.#mediaType);
    if (transform) await pipeline(source, hashOuter, transform, tap);
    else await pipeline(source, hashOuter, tap);
    const facts: LayerFacts = this.#plain
      ? { digest: outer.digest(), size: outer.size, diffId: outer.digest(), uncompressedSize: outer.size }
      : { digest: outer.digest(), size: outer.size, diffId: inner.digest(), uncompressedSize: inner.size };
    const given = this.#options;
    const contradiction =
      (given.digest !== undefined && given.digest !== facts.digest) ||
      (given.diffId !== undefined && given.diffId !== facts.diffId) ||
      (given.size !== undefined && given.size !== facts.size);
    if (contradiction) {
      throw new ImageError(
        'IMAGE_DIGEST_MISMATCH',
        `layer content does not match what its source says: read digest ${facts.digest} (${facts.size} bytes), diffID ${facts.diffId}; expected ${given.digest ?? '?'} (${given.size ?? '?'} bytes), diffID ${given.diffId ?? '?'}`,
        { hint: 'the layer blob changed or is corrupt; fetch or build it again' },
      );
    }
    return facts;
  }
}

/** A layer held in memory (tests, tiny layers). Digest and size are computed right away. */
export function layerFromBytes(
  bytes: Uint8Array,
  options: Omit<OpenerLayerOptions, 'digest' | 'size'> = {},
): Layer {
  return layerFromOpener(async () => Readable.from([Buffer.from(bytes)]), {
    ...options,
    digest: sha256Digest(bytes),
    size: bytes.byteLength,
  });
}

/** The tar length of `layer`: known or memoised when the layer can say, else counted by streaming. */
export async function uncompressedSize(layer: Layer): Promise<number> {
  if (layer.uncompressedSize) return layer.uncompressedSize();
  let size = 0;
  for await (const chunk of await layer.uncompressed()) size += (chunk as Buffer).byteLength;
  return size;
}

const TO_DOCKER: Readonly<Record<string, string>> = {
  [MediaType.ociManifest]: MediaType.dockerManifest,
  [MediaType.ociIndex]: MediaType.dockerManifestList,
  [MediaType.ociConfig]: MediaType.dockerConfig,
  [MediaType.ociLayer]: MediaType.dockerLayer,
  [MediaType.ociLayerGzip]: MediaType.dockerLayerGzip,
  [MediaType.ociLayerZstd]: MediaType.dockerLayerZstd,
  [MediaType.ociLayerNondistributable]: MediaType.dockerForeignLayer,
  [MediaType.ociLayerNondistributableGzip]: MediaType.dockerForeignLayerGzip,
};
const TO_OCI: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(TO_DOCKER).map(([oci, docker]) => [docker, oci]),
);

/** `mediaType` in the other family's spelling (`…docker.image.rootfs.diff.tar.gzip` ↔ `…oci.image.layer.v1.tar+gzip`); unknown types are kept. */
export function convertMediaType(mediaType: string, flavor: MediaTypeFlavor): string {
  return (flavor === 'oci' ? TO_OCI : TO_DOCKER)[mediaType] ?? mediaType;
}

/**
 * `layer` reporting another media type (same bytes, same digests). What else a plain-object layer
 * offers (a lazy cache hit's compressed form, say) is kept: only the media type differs.
 */
export function withLayerMediaType(layer: Layer, mediaType: string): Layer {
  return {
    ...(Object.getPrototypeOf(layer) === Object.prototype ? layer : {}),
    digest: () => layer.digest(),
    diffId: () => layer.diffId(),
    size: () => layer.size(),
    mediaType: async () => mediaType,
    compressed: () => layer.compressed(),
    uncompressed: () => layer.uncompressed(),
    uncompressedSize: () => uncompressedSize(layer),
  };
}

function parseJson(bytes: Uint8Array, what: string, code: 'IMAGE_INVALID_MANIFEST' | 'IMAGE_INVALID_CONFIG') {
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown;
  } catch (cause) {
    throw new ImageError(code, `${what} is not valid JSON: ${(cause as Error).message}`, {
      hint: 'the blob is corrupt or is not a document of this kind',
      cause,
    });
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses and shape-checks an image manifest. */
export function parseManifest(bytes: Uint8Array): ImageManifest {
  const doc = parseJson(bytes, 'image manifest', 'IMAGE_INVALID_MANIFEST');
  if (!isObject(doc) || doc.schemaVersion !== 2 || !isObject(doc.config) || !Array.isArray(doc.layers)) {
    const mediaType = isObject(doc) ? doc.mediaType : undefined;
    throw new ImageError(
      'IMAGE_INVALID_MANIFEST',
      typeof mediaType === 'string' && isIndex(mediaType)
        ? `expected an image manifest, found an index (${mediaType})`
        : 'not an image manifest: it needs schemaVersion 2, a config descriptor and a layers array',
      { hint: 'point at an image manifest (select a platform when the reference names an index)' },
    );
  }
  return doc as unknown as ImageManifest;
}

/** Parses and shape-checks an image config. */
export function parseConfig(bytes: Uint8Array): ImageConfig {
  const doc = parseJson(bytes, 'image config', 'IMAGE_INVALID_CONFIG');
  if (!isObject(doc) || !isObject(doc.rootfs) || !Array.isArray(doc.rootfs.diff_ids)) {
    throw new ImageError('IMAGE_INVALID_CONFIG', 'not an image config: rootfs.diff_ids is missing', {
      hint: 'the config blob is corrupt or belongs to an artifact, not a container image',
    });
  }
  for (const id of doc.rootfs.diff_ids) parseDigest(String(id));
  return doc as unknown as ImageConfig;
}

function memo<T>(compute: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => {
    value ??= compute();
    return value;
  };
}

/** What {@link imageFromManifest} needs from a medium. */
export interface ManifestSource {
  readonly rawManifest: Uint8Array;
  /** The media type from the descriptor that pointed here, used when the manifest omits its own. */
  readonly mediaType?: string;
  /** Opens config and layer blobs (content is verified where it is small: the config). */
  readonly blob: BlobOpener;
}

/**
 * An image from raw manifest bytes and a blob opener (layouts, oci-archives, registries). The raw bytes
 * are kept, so the digest is the source's; the config is read (and verified) once; layers are opened
 * lazily, with diffIDs taken from the config.
 */
export function imageFromManifest(source: ManifestSource): Image {
  const manifest = parseManifest(source.rawManifest);
  const rawConfig = memo(async () => {
    const what = `config ${manifest.config.digest}`;
    if (!(manifest.config.size <= CONFIG_LIMIT)) throw tooLarge(what, manifest.config.size, CONFIG_LIMIT);
    const bytes = await readAll(
      verified(await source.blob(manifest.config), {
        digest: manifest.config.digest,
        size: manifest.config.size,
        what,
      }),
      CONFIG_LIMIT,
      what,
    );
    parseConfig(bytes);
    return new Uint8Array(bytes);
  });
  const config = memo(async () => parseConfig(await rawConfig()));
  const layers = memo(async () => {
    const diffIds = (await config()).rootfs.diff_ids;
    if (diffIds.length !== manifest.layers.length) {
      throw new ImageError(
        'IMAGE_INVALID_CONFIG',
        `the manifest lists ${manifest.layers.length} layers but the config's rootfs has ${diffIds.length} diff_ids`,
        { hint: 'the image is inconsistent; rebuild or re-pull it' },
      );
    }
    return manifest.layers.map((descriptor, i) =>
      layerFromOpener(() => source.blob(descriptor), {
        mediaType: descriptor.mediaType,
        digest: descriptor.digest,
        size: descriptor.size,
        diffId: diffIds[i] as Digest,
      }),
    );
  });
  const digest = sha256Digest(source.rawManifest);
  const mediaType = manifest.mediaType ?? source.mediaType ?? MediaType.ociManifest;
  return {
    mediaType: async () => mediaType,
    manifest: async () => manifest,
    rawManifest: async () => source.rawManifest,
    digest: async () => digest,
    config,
    rawConfig,
    configDescriptor: async () => manifest.config,
    layers,
  };
}

/** What {@link imageFromConfig} needs: a config and its layers; the manifest is synthesised. */
export interface ConfigSource {
  readonly rawConfig: Uint8Array;
  readonly layers: readonly Layer[];
  /** Media types of the synthesised manifest and config; default `oci`. Layers keep their own. */
  readonly flavor?: MediaTypeFlavor;
}

/**
 * An image from config bytes and layers (docker-archive, scratch): the manifest is built, canonically,
 * the first time anything asks for it.
 */
export function imageFromConfig(source: ConfigSource): Image {
  const flavor = source.flavor ?? 'oci';
  const rawConfig = source.rawConfig;
  const config = parseConfig(rawConfig);
  const configDescriptor = descriptorOf(
    flavor === 'oci' ? MediaType.ociConfig : MediaType.dockerConfig,
    rawConfig,
  );
  const mediaType = flavor === 'oci' ? MediaType.ociManifest : MediaType.dockerManifest;
  const manifestBytes = memo(async () => {
    const layers: Descriptor[] = [];
    for (const layer of source.layers) {
      const [layerMediaType, digest, size] = await Promise.all([
        layer.mediaType(),
        layer.digest(),
        layer.size(),
      ]);
      layers.push({ mediaType: layerMediaType, digest, size });
    }
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType,
      config: configDescriptor,
      layers,
    };
    return { manifest, bytes: encodeJson(manifest) };
  });
  return {
    mediaType: async () => mediaType,
    manifest: async () => (await manifestBytes()).manifest,
    rawManifest: async () => (await manifestBytes()).bytes,
    digest: async () => sha256Digest((await manifestBytes()).bytes),
    config: async () => config,
    rawConfig: async () => rawConfig,
    configDescriptor: async () => configDescriptor,
    layers: async () => source.layers,
  };
}

/**
 * An Image whose source is found only when something is asked of it (an index entry whose manifest
 * has not been read yet). `load` runs at most once.
 */
export function lazyImage(load: () => Promise<Image>): Image {
  const get = memo(load);
  return {
    mediaType: async () => (await get()).mediaType(),
    manifest: async () => (await get()).manifest(),
    rawManifest: async () => (await get()).rawManifest(),
    digest: async () => (await get()).digest(),
    config: async () => (await get()).config(),
    rawConfig: async () => (await get()).rawConfig(),
    configDescriptor: async () => (await get()).configDescriptor(),
    layers: async () => (await get()).layers(),
  };
}

/** The {@link lazyImage} of indexes. */
export function lazyIndex(load: () => Promise<ImageIndex>): ImageIndex {
  const get = memo(load);
  return {
    mediaType: async () => (await get()).mediaType(),
    manifest: async () => (await get()).manifest(),
    rawManifest: async () => (await get()).rawManifest(),
    digest: async () => (await get()).digest(),
    images: async () => (await get()).images(),
    indexes: async () => (await get()).indexes(),
  };
}
