// The public names of `oci/`: spec types, media types, digests, platforms, references, JSON encoding.

export type { Digest, DigestAlgorithm, Digester } from './digest.js';
export {
  createDigester,
  digestAlgorithm,
  digestHex,
  digestOf,
  isDigest,
  isWellFormedDigest,
  parseDigest,
  sha256Digest,
  verify,
} from './digest.js';
export type { OciErrorCode } from './errors.js';
export { OciError } from './errors.js';
export type { DescriptorOptions, EncodedDocument } from './json.js';
export {
  canonicalJson,
  descriptorOf,
  EMPTY_DESCRIPTOR,
  encodeDocument,
  encodeJson,
  sortedRecord,
} from './json.js';
export type { KnownMediaType, LayerCompression } from './media-types.js';
export {
  EMPTY_JSON_DIGEST,
  isConfig,
  isGzip,
  isIndex,
  isLayer,
  isManifest,
  isNonDistributable,
  isZstd,
  layerCompression,
  MediaType,
} from './media-types.js';
export {
  bestMatch,
  formatPlatform,
  hostPlatform,
  matchPlatform,
  normalizePlatform,
  parsePlatform,
} from './platform.js';
export type { ParsedReference } from './reference.js';
export {
  DEFAULT_REGISTRY,
  DEFAULT_TAG,
  familiarName,
  formatReference,
  MAX_NAME_LENGTH,
  parseReference,
  Reference,
} from './reference.js';
export type {
  Annotations,
  ContainerConfig,
  Descriptor,
  EmptyObject,
  HealthConfig,
  History,
  ImageConfig,
  ImageIndex,
  ImageLayout,
  ImageManifest,
  Platform,
  RootFS,
} from './types.js';
export type { ValidationProblem } from './validate.js';
export { validateConfig, validateDescriptor, validateIndex, validateManifest } from './validate.js';
