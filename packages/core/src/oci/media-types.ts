/**
 * Media types wharf reads and writes: OCI image-spec v1.1 and Docker image manifest v2 schema 2.
 * wharf writes OCI types; Docker types are recognised when pulling and written only for
 * `docker-archive` output.
 */
import type { Digest } from './digest.js';

export const MediaType = {
  // OCI image spec
  ociDescriptor: 'application/vnd.oci.descriptor.v1+json',
  ociLayoutHeader: 'application/vnd.oci.layout.header.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  /** Deprecated by image-spec v1.1 but still found in the wild. */
  ociLayerNondistributable: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  ociLayerNondistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  ociLayerNondistributableZstd: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  /** The "empty descriptor" content `{}` (2 bytes), for artifacts and empty configs/layers. */
  ociEmpty: 'application/vnd.oci.empty.v1+json',

  // Docker image manifest v2, schema 2
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerLayerZstd: 'application/vnd.docker.image.rootfs.diff.tar.zstd',
  /** Windows base layers that registries must not serve; fetched from `urls` instead. */
  dockerForeignLayer: 'application/vnd.docker.image.rootfs.foreign.diff.tar',
  dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  /** Schema 1 (signed): unsupported, recognised only to say so. */
  dockerManifestV1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  dockerManifestV1: 'application/vnd.docker.distribution.manifest.v1+json',
} as const;

export type KnownMediaType = (typeof MediaType)[keyof typeof MediaType];

/** The digest of the empty descriptor's content `{}`. */
export const EMPTY_JSON_DIGEST =
  'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a' as Digest;

const INDEXES: ReadonlySet<string> = new Set([MediaType.ociIndex, MediaType.dockerManifestList]);
const MANIFESTS: ReadonlySet<string> = new Set([MediaType.ociManifest, MediaType.dockerManifest]);
const CONFIGS: ReadonlySet<string> = new Set([MediaType.ociConfig, MediaType.dockerConfig]);
const LAYERS: ReadonlySet<string> = new Set([
  MediaType.ociLayer,
  MediaType.ociLayerGzip,
  MediaType.ociLayerZstd,
  MediaType.ociLayerNondistributable,
  MediaType.ociLayerNondistributableGzip,
  MediaType.ociLayerNondistributableZstd,
  MediaType.dockerLayer,
  MediaType.dockerLayerGzip,
  MediaType.dockerLayerZstd,
  MediaType.dockerForeignLayer,
  MediaType.dockerForeignLayerGzip,
]);
const GZIP: ReadonlySet<string> = new Set([
  MediaType.ociLayerGzip,
  MediaType.ociLayerNondistributableGzip,
  MediaType.dockerLayerGzip,
  MediaType.dockerForeignLayerGzip,
]);
const ZSTD: ReadonlySet<string> = new Set([
  MediaType.ociLayerZstd,
  MediaType.ociLayerNondistributableZstd,
  MediaType.dockerLayerZstd,
]);
const NON_DISTRIBUTABLE: ReadonlySet<string> = new Set([
  MediaType.ociLayerNondistributable,
  MediaType.ociLayerNondistributableGzip,
  MediaType.ociLayerNondistributableZstd,
  MediaType.dockerForeignLayer,
  MediaType.dockerForeignLayerGzip,
]);

/** An OCI image index or a Docker manifest list. */
export function isIndex(mediaType: string): boolean {
  return INDEXES.has(mediaType);
}

/** An OCI image manifest or a Docker schema 2 manifest. */
export function isManifest(mediaType: string): boolean {
  return MANIFESTS.has(mediaType);
}

/** An OCI or Docker image config. */
export function isConfig(mediaType: string): boolean {
  return CONFIGS.has(mediaType);
}

/** A filesystem layer (tar, tar+gzip, tar+zstd; OCI, Docker, foreign or non-distributable). */
export function isLayer(mediaType: string): boolean {
  return LAYERS.has(mediaType);
}

/** A gzip-compressed layer. */
export function isGzip(mediaType: string): boolean {
  return GZIP.has(mediaType);
}

/** A zstd-compressed layer. */
export function isZstd(mediaType: string): boolean {
  return ZSTD.has(mediaType);
}

/** A foreign (Docker) or non-distributable (OCI) layer: pushed by reference, never uploaded. */
export function isNonDistributable(mediaType: string): boolean {
  return NON_DISTRIBUTABLE.has(mediaType);
}

export type LayerCompression = 'none' | 'gzip' | 'zstd';

/** How a layer media type is compressed; `undefined` when `mediaType` is not a layer. */
export function layerCompression(mediaType: string): LayerCompression | undefined {
  if (!isLayer(mediaType)) return undefined;
  if (isGzip(mediaType)) return 'gzip';
  if (isZstd(mediaType)) return 'zstd';
  return 'none';
}
