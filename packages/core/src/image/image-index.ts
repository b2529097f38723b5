/**
 * Indexes: reading one from raw bytes and a blob opener, picking an image out of one (by name, digest
 * or platform), and building the index a layout or oci-archive writes for a set of tagged images.
 */
import { Readable } from 'node:stream';
import {
  type Annotations,
  bestMatch,
  type Descriptor,
  type Digest,
  encodeDocument,
  encodeJson,
  formatPlatform,
  type ImageConfig,
  isIndex,
  isManifest,
  MediaType,
  type ImageIndex as OciImageIndex,
  type Platform,
  parseReference,
  type Reference,
  sha256Digest,
} from '../oci/index.js';
import { defaultPlatform } from './empty.js';
import { ImageError } from './errors.js';
import { imageFromManifest, lazyImage, lazyIndex } from './partial.js';
import { MANIFEST_LIMIT, readAll, tooLarge, verified } from './stream.js';
import type { BlobOpener, Image, ImageIndex, IndexEntry, NestedIndex } from './types.js';

/** The image-spec annotation naming a layout entry: a tag (`latest`), as BuildKit writes it. */
export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';
/** containerd's annotation with the full image name (`docker.io/library/hello:latest`). */
export const ANNOTATION_IMAGE_NAME = 'io.containerd.image.name';

/** What {@link indexFromManifest} needs from a medium. */
export interface IndexSource {
  readonly rawManifest: Uint8Array;
  readonly mediaType?: string;
  readonly blob: BlobOpener;
}

function parseIndex(bytes: Uint8Array): OciImageIndex {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (cause) {
    throw new ImageError(
      'IMAGE_INVALID_MANIFEST',
      `image index is not valid JSON: ${(cause as Error).message}`,
      {
        hint: 'the index is corrupt',
        cause,
      },
    );
  }
  const d = doc as Partial<OciImageIndex> | null;
  if (!d || typeof d !== 'object' || d.schemaVersion !== 2 || !Array.isArray(d.manifests)) {
    throw new ImageError(
      'IMAGE_INVALID_MANIFEST',
      'not an image index: it needs schemaVersion 2 and manifests',
      {
        hint: 'point at an OCI image index or a Docker manifest list',
      },
    );
  }
  return d as OciImageIndex;
}

/**
 * Reads a manifest or index blob fully, verifying it against its descriptor; one that claims more than
 * {@link MANIFEST_LIMIT} is refused before it is opened.
 */
export async function readDocument(blob: BlobOpener, descriptor: Descriptor): Promise<Uint8Array> {
  const what = `${descriptor.mediaType} ${descriptor.digest}`;
  if (!(descriptor.size <= MANIFEST_LIMIT)) throw tooLarge(what, descriptor.size, MANIFEST_LIMIT);
  const stream = verified(await blob(descriptor), { digest: descriptor.digest, size: descriptor.size, what });
  return new Uint8Array(await readAll(stream, MANIFEST_LIMIT, what));
}

/** An index from raw bytes (an image index blob, or a layout's `index.json`) and a blob opener. */
export function indexFromManifest(source: IndexSource): ImageIndex {
  const manifest = parseIndex(source.rawManifest);
  const digest = sha256Digest(source.rawManifest);
  let images: Promise<IndexEntry[]> | undefined;
  let indexes: Promise<NestedIndex[]> | undefined;
  return {
    mediaType: async () => manifest.mediaType ?? source.mediaType ?? MediaType.ociIndex,
    manifest: async () => manifest,
    rawManifest: async () => source.rawManifest,
    digest: async () => digest,
    images() {
      images ??= Promise.resolve(
        manifest.manifests
          .filter((d) => isManifest(d.mediaType))
          .map((descriptor) => ({
            descriptor,
            ...(descriptor.platform ? { platform: descriptor.platform } : {}),
            image: lazyImage(async () =>
              imageFromManifest({
                rawManifest: await readDocument(source.blob, descriptor),
                mediaType: descriptor.mediaType,
                blob: source.blob,
              }),
            ),
          })),
      );
      return images;
    },
    indexes() {
      indexes ??= Promise.resolve(
        manifest.manifests
          .filter((d) => isIndex(d.mediaType))
          .map((descriptor) => ({
            descriptor,
            index: lazyIndex(async () =>
              indexFromManifest({
                rawManifest: await readDocument(source.blob, descriptor),
                mediaType: descriptor.mediaType,
                blob: source.blob,
              }),
            ),
          })),
      );
      return indexes;
    },
  };
}

export interface SelectOptions {
  /**
   * A name from the index: matched against `org.opencontainers.image.ref.name` exactly, and, when it
   * parses as an image reference, against `io.containerd.image.name` in normalised form.
   */
  readonly ref?: string;
  /** The digest of a manifest or index listed (directly or nested) in the index. */
  readonly digest?: Digest;
  /** For multi-platform entries; default Linux on this machine's architecture. */
  readonly platform?: Platform;
  /** For error messages: where the index came from. */
  readonly source?: string;
}

function normalised(ref: string): string | undefined {
  try {
    return parseReference(ref).toString();
  } catch {
    return undefined;
  }
}

/** The names an index descriptor carries, for messages. */
function namesOf(descriptor: Descriptor): string[] {
  const a = descriptor.annotations ?? {};
  return [a[ANNOTATION_IMAGE_NAME], a[ANNOTATION_REF_NAME]].filter((n): n is string => n !== undefined);
}

/**
 * The image in `index` that `options` name. With a ref or digest, that entry; without, the only entry.
 * An entry that is itself an index is resolved by platform (oci `bestMatch`), as is a list of
 * entries that all carry platforms. Fails with `IMAGE_NOT_FOUND` or `IMAGE_AMBIGUOUS`, listing names.
 */
export async function selectImage(index: ImageIndex, options: SelectOptions = {}): Promise<Image> {
  const where = options.source ?? 'the index';
  const platform = options.platform ?? defaultPlatform();
  const manifest = await index.manifest();
  // an entry with artifactType is a referrer stored beside the images (an SBOM, a signature), not an image
  let candidates = manifest.manifests.filter((d) => d.artifactType === undefined);
  if (options.ref !== undefined) {
    const full = normalised(options.ref);
    candidates = candidates.filter((d) => {
      const a = d.annotations ?? {};
      return (
        a[ANNOTATION_REF_NAME] === options.ref || (full !== undefined && a[ANNOTATION_IMAGE_NAME] === full)
      );
    });
    if (candidates.length === 0) {
      const names = manifest.manifests.flatMap(namesOf);
      throw new ImageError('IMAGE_NOT_FOUND', `no image named "${options.ref}" in ${where}`, {
        hint: names.length
          ? `names present: ${[...new Set(names)].join(', ')}`
          : `${where} has no named images`,
      });
    }
  }
  if (options.digest !== undefined) {
    const found = await findByDigest(index, options.digest, where);
    if (found === undefined) {
      throw new ImageError('IMAGE_NOT_FOUND', `no manifest ${options.digest} in ${where}`, {
        hint: 'list the layout with its index.json, or name the image by tag',
      });
    }
    return found instanceof Function ? found() : resolvePlatform(found, platform, where);
  }
  // Duplicate descriptors (one image with several names) count once.
  const unique = [...new Map(candidates.map((d) => [d.digest, d])).values()];
  if (unique.length === 0) {
    throw new ImageError('IMAGE_NOT_FOUND', `${where} lists no images`, {
      hint: 'write an image into it first',
    });
  }
  let chosen = unique[0] as Descriptor;
  if (unique.length > 1) {
    const match = unique.every((d) => d.platform) ? bestMatch(unique, platform) : undefined;
    const twins = match
      ? unique.filter(
          (d) => formatPlatform(d.platform as Platform) === formatPlatform(match.platform as Platform),
        )
      : [];
    if (!match || twins.length > 1) {
      const names = unique.map((d) => namesOf(d)[0] ?? d.digest);
      throw new ImageError('IMAGE_AMBIGUOUS', `${where} lists ${unique.length} images; which one?`, {
        hint: `name one by ref or digest: ${names.join(', ')}`,
      });
    }
    chosen = match;
  }
  return open(index, chosen, platform, where);
}

async function open(
  index: ImageIndex,
  descriptor: Descriptor,
  platform: Platform,
  where: string,
): Promise<Image> {
  if (isIndex(descriptor.mediaType)) {
    const nested = (await index.indexes()).find((n) => n.descriptor.digest === descriptor.digest);
    if (!nested)
      throw new ImageError('IMAGE_NOT_FOUND', `index ${descriptor.digest} is missing from ${where}`);
    return resolvePlatform(nested.index, platform, where);
  }
  const entry = (await index.images()).find((e) => e.descriptor.digest === descriptor.digest);
  if (!entry) {
    throw new ImageError(
      'IMAGE_NOT_FOUND',
      `${descriptor.mediaType} ${descriptor.digest} in ${where} is not an image`,
      {
        hint: 'only image manifests and indexes can be read as images',
      },
    );
  }
  return entry.image;
}

async function resolvePlatform(index: ImageIndex, platform: Platform, where: string): Promise<Image> {
  const entries = await index.images();
  const match = bestMatch(entries, platform);
  if (!match) {
    const available = entries.map((e) => (e.platform ? formatPlatform(e.platform) : 'unknown')).join(', ');
    throw new ImageError('IMAGE_NOT_FOUND', `no image for ${formatPlatform(platform)} in ${where}`, {
      hint: `available platforms: ${available || 'none'}; pass another platform`,
    });
  }
  return match.image;
}

/** How deep indexes may nest below the one searched, and how many a digest search may open. */
export const INDEX_DEPTH_LIMIT = 8;
export const INDEX_NODE_LIMIT = 10_000;

/**
 * A nested lookup: an Image thunk, an index to resolve by platform, or undefined. Each index is opened
 * once (by digest), at most {@link INDEX_DEPTH_LIMIT} deep and {@link INDEX_NODE_LIMIT} in all:
 * indexes listing each other, or one index many times, cannot make the search exponential.
 */
async function findByDigest(
  root: ImageIndex,
  digest: Digest,
  where: string,
): Promise<(() => Promise<Image>) | ImageIndex | undefined> {
  const seen = new Set<string>();
  const visit = async (
    index: ImageIndex,
    depth: number,
  ): Promise<(() => Promise<Image>) | ImageIndex | undefined> => {
    for (const entry of await index.images()) {
      if (entry.descriptor.digest === digest) return async () => entry.image;
    }
    for (const nested of await index.indexes()) {
      if (nested.descriptor.digest === digest) return nested.index;
    }
    for (const nested of await index.indexes()) {
      if (seen.has(nested.descriptor.digest)) continue;
      seen.add(nested.descriptor.digest);
      if (depth >= INDEX_DEPTH_LIMIT || seen.size > INDEX_NODE_LIMIT) {
        throw new ImageError(
          'IMAGE_INDEX_TOO_DEEP',
          `${where}: indexes nest more than ${INDEX_DEPTH_LIMIT} deep or number more than ${INDEX_NODE_LIMIT} (searching for ${digest})`,
          { hint: 'the layout is corrupt or hostile; name the image by tag, or flatten the index' },
        );
      }
      const inner = await visit(nested.index, depth + 1);
      if (inner !== undefined) return inner;
    }
    return undefined;
  };
  return visit(root, 0);
}

/** The platform an image's config describes (architecture, os, os.version, variant). */
export function platformOf(config: ImageConfig): Platform {
  return {
    architecture: config.architecture,
    os: config.os,
    ...(config['os.version'] ? { 'os.version': config['os.version'] } : {}),
    ...(config.variant ? { variant: config.variant } : {}),
  };
}

/** BuildKit's annotations for a name: the full reference and its tag as the ref name. */
export function nameAnnotations(name: string | Reference): Annotations {
  const ref = typeof name === 'string' ? parseReference(name) : name;
  const full = ref.toString();
  return {
    [ANNOTATION_IMAGE_NAME]: full,
    [ANNOTATION_REF_NAME]: ref.tag ?? ref.digest ?? full,
  };
}

/** A descriptor pointing at `image`'s manifest, with its platform and optional annotations. */
export async function imageDescriptor(image: Image, annotations?: Annotations): Promise<Descriptor> {
  const [mediaType, digest, raw, config] = await Promise.all([
    image.mediaType(),
    image.digest(),
    image.rawManifest(),
    image.config(),
  ]);
  return {
    mediaType,
    digest,
    size: raw.byteLength,
    ...(annotations && Object.keys(annotations).length ? { annotations } : {}),
    platform: platformOf(config),
  };
}

/** An image to write into a layout or archive, with the names it should carry. */
export interface NamedImage {
  readonly image: Image;
  /** Image references (`hello`, `ghcr.io/o/app:1.0`); each becomes one index entry (BuildKit's habit). */
  readonly names?: readonly (string | Reference)[];
}

/** A multi-platform image (an index) to write into a layout or oci-archive, with its names. */
export interface NamedIndex {
  readonly index: ImageIndex;
  /** Image references; each becomes one `index.json` entry pointing at the index. */
  readonly names?: readonly (string | Reference)[];
}

/** A descriptor pointing at `index`'s bytes (no platform: an index spans several), with annotations. */
export async function indexDescriptor(index: ImageIndex, annotations?: Annotations): Promise<Descriptor> {
  const [mediaType, digest, raw] = await Promise.all([
    index.mediaType(),
    index.digest(),
    index.rawManifest(),
  ]);
  return {
    mediaType,
    digest,
    size: raw.byteLength,
    ...(annotations && Object.keys(annotations).length ? { annotations } : {}),
  };
}

/**
 * The canonical `index.json` for `entries`: one descriptor per name (or one unnamed), in order. An
 * image entry points at its manifest, an index entry at its index (BuildKit's layout for several platforms).
 */
export async function buildIndex(
  entries: readonly (NamedImage | NamedIndex)[],
): Promise<{ index: OciImageIndex; bytes: Uint8Array }> {
  const manifests: Descriptor[] = [];
  for (const entry of entries) {
    const describe = (annotations?: Annotations) =>
      'index' in entry
        ? indexDescriptor(entry.index, annotations)
        : imageDescriptor(entry.image, annotations);
    const names = entry.names ?? [];
    if (names.length === 0) manifests.push(await describe());
    for (const name of names) manifests.push(await describe(nameAnnotations(name)));
  }
  const index: OciImageIndex = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests };
  return { index, bytes: encodeJson(index) };
}

/**
 * A new OCI image index listing `images` (each with the platform its config names), in order: what a
 * multi-platform build writes. Its bytes are computed once, when first asked for.
 *
 * @example
 * const index = indexOfImages([amd64, arm64]);
 * await pushIndex(index, 'registry.example.com/app:1.0');
 */
export function indexOfImages(images: readonly Image[]): ImageIndex {
  let built: Promise<{ index: OciImageIndex; bytes: Uint8Array; entries: IndexEntry[] }> | undefined;
  const build = () => {
    built ??= (async () => {
      const entries: IndexEntry[] = [];
      for (const image of images) {
        const descriptor = await imageDescriptor(image);
        entries.push({
          descriptor,
          ...(descriptor.platform ? { platform: descriptor.platform } : {}),
          image,
        });
      }
      const index: OciImageIndex = {
        schemaVersion: 2,
        mediaType: MediaType.ociIndex,
        manifests: entries.map((e) => e.descriptor),
      };
      return { index, bytes: encodeJson(index), entries };
    })();
    return built;
  };
  return {
    mediaType: async () => MediaType.ociIndex,
    manifest: async () => (await build()).index,
    rawManifest: async () => (await build()).bytes,
    digest: async () => sha256Digest((await build()).bytes),
    images: async () => (await build()).entries,
    indexes: async () => [],
  };
}

/** The `oci-layout` file. */
export const OCI_LAYOUT_BYTES: Uint8Array = encodeDocument(MediaType.ociLayoutHeader, {
  imageLayoutVersion: '1.0.0',
}).bytes;

/** A blob to copy into a sink, with how to open it. */
export interface ImageBlob {
  readonly descriptor: Descriptor;
  /** What the blob is, for messages (`layer 2 of sha256:…`). */
  readonly what: string;
  open(): Promise<Readable>;
}

/**
 * Every blob of `items` once, in a deterministic order a crash-safe writer can follow: per image its
 * layers (base first), its config, then its manifest; per index its images so, then the index (so a
 * manifest or index is only written after all it points at).
 */
export async function blobsOf(items: readonly (Image | ImageIndex)[]): Promise<ImageBlob[]> {
  const seen = new Set<string>();
  const out: ImageBlob[] = [];
  const add = (blob: ImageBlob) => {
    if (seen.has(blob.descriptor.digest)) return;
    seen.add(blob.descriptor.digest);
    out.push(blob);
  };
  for (const item of items) {
    if (!isImageIndex(item)) {
      await addImageBlobs(item, add);
      continue;
    }
    // an index: its images' blobs first, then (nested indexes and) its own bytes
    const [entries, nested, raw, mediaType, digest] = await Promise.all([
      item.images(),
      item.indexes(),
      item.rawManifest(),
      item.mediaType(),
      item.digest(),
    ]);
    for (const entry of entries) await addImageBlobs(entry.image, add);
    for (const blob of await blobsOf(nested.map((n) => n.index))) add(blob);
    add({
      descriptor: { mediaType, digest, size: raw.byteLength },
      what: `index ${digest}`,
      open: async () => Readable.from([Buffer.from(raw)]),
    });
  }
  return out;
}

/** Whether `value` is an index (it lists images) rather than one image. */
export function isImageIndex(value: Image | ImageIndex): value is ImageIndex {
  return typeof (value as ImageIndex).images === 'function';
}

async function addImageBlobs(image: Image, add: (blob: ImageBlob) => void): Promise<void> {
  const [manifest, layers, rawConfig, rawManifest, mediaType, digest] = await Promise.all([
    image.manifest(),
    image.layers(),
    image.rawConfig(),
    image.rawManifest(),
    image.mediaType(),
    image.digest(),
  ]);
  manifest.layers.forEach((descriptor, i) => {
    const layer = layers[i];
    if (!layer) {
      throw new ImageError(
        'IMAGE_INVALID_MANIFEST',
        `image ${digest} lists more layer descriptors than layers`,
      );
    }
    add({ descriptor, what: `layer ${i + 1} of ${digest}`, open: () => layer.compressed() });
  });
  add({
    descriptor: manifest.config,
    what: `config of ${digest}`,
    open: async () => Readable.from([Buffer.from(rawConfig)]),
  });
  add({
    descriptor: { mediaType, digest, size: rawManifest.byteLength },
    what: `manifest ${digest}`,
    open: async () => Readable.from([Buffer.from(rawManifest)]),
  });
}
