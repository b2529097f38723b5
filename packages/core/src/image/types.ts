/**
 * The three values every medium speaks: a {@link Layer}, an {@link Image} and an {@link ImageIndex}.
 * They are small interfaces of async accessors (go-containerregistry's `v1.Layer`/`v1.Image`), so code
 * that consumes them never knows where the bytes live. Values are immutable: an accessor returns the
 * same answer every time, and anything derived is computed at most once.
 */
import type { Readable } from 'node:stream';
import type {
  Descriptor,
  Digest,
  History,
  ImageConfig,
  ImageManifest,
  ImageIndex as OciImageIndex,
  Platform,
} from '../oci/index.js';

/** One filesystem layer: the compressed blob a manifest points at, and the tar it unpacks to. */
export interface Layer {
  /** The digest of the blob as stored (compressed form): what a manifest lists. */
  digest(): Promise<Digest>;
  /** The digest of the uncompressed tar: what the config's `rootfs.diff_ids` lists. */
  diffId(): Promise<Digest>;
  /** The size of the blob as stored (compressed), in bytes. */
  size(): Promise<number>;
  mediaType(): Promise<string>;
  /** The blob as stored. Each call opens a fresh stream. */
  compressed(): Promise<Readable>;
  /** The tar. Each call opens a fresh stream. */
  uncompressed(): Promise<Readable>;
  /**
   * The length of the uncompressed tar, when the layer knows it without reading (or has read it once).
   * Optional; {@link uncompressedSize} in `partial.ts` falls back to counting.
   */
  uncompressedSize?(): Promise<number>;
}

/** A single-platform image: a manifest, a config and layers. */
export interface Image {
  /** The manifest's media type (OCI or Docker schema 2). */
  mediaType(): Promise<string>;
  manifest(): Promise<ImageManifest>;
  /** The exact manifest bytes; {@link Image.digest} is their sha256. */
  rawManifest(): Promise<Uint8Array>;
  digest(): Promise<Digest>;
  config(): Promise<ImageConfig>;
  /** The exact config bytes. */
  rawConfig(): Promise<Uint8Array>;
  configDescriptor(): Promise<Descriptor>;
  /** The layers, base first, in manifest order. */
  layers(): Promise<readonly Layer[]>;
}

/** An image listed in an index, with the platform its descriptor names. */
export interface IndexEntry {
  readonly descriptor: Descriptor;
  readonly platform?: Platform;
  readonly image: Image;
}

/** A nested index listed in an index. */
export interface NestedIndex {
  readonly descriptor: Descriptor;
  readonly index: ImageIndex;
}

/** An OCI image index (or Docker manifest list), or an image layout's `index.json`. */
export interface ImageIndex {
  mediaType(): Promise<string>;
  manifest(): Promise<OciImageIndex>;
  rawManifest(): Promise<Uint8Array>;
  digest(): Promise<Digest>;
  /** The images this index lists directly (descriptors with a manifest media type), in order. */
  images(): Promise<readonly IndexEntry[]>;
  /** The indexes this index lists directly (multi-platform images inside a layout). */
  indexes(): Promise<readonly NestedIndex[]>;
}

/** Opens a blob by descriptor; what a medium provides to {@link imageFromManifest}. */
export type BlobOpener = (descriptor: Descriptor) => Promise<Readable>;

/** The read side of a content-addressed store (`BlobStore` from `store/` satisfies it). */
export interface BlobReader {
  open(digest: Digest): Promise<Readable>;
}

/** A layer to append, with the history entry that describes it. */
export interface Addendum {
  readonly layer: Layer;
  readonly history?: History;
}

/** Which family of media types a manifest uses. */
export type MediaTypeFlavor = 'oci' | 'docker';
