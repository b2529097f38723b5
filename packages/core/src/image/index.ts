// The public names of `image/`: Layer/Image/ImageIndex values, partial helpers, mutations, scratch.

export type { BlobRange, RangeFile } from './blob-range.js';
export { verifiedRange } from './blob-range.js';
export { defaultPlatform, emptyImage } from './empty.js';
export type { ImageErrorCode } from './errors.js';
export { ImageError } from './errors.js';
export type { ImageBlob, IndexSource, NamedImage, NamedIndex, SelectOptions } from './image-index.js';
export {
  ANNOTATION_IMAGE_NAME,
  ANNOTATION_REF_NAME,
  blobsOf,
  buildIndex,
  imageDescriptor,
  indexDescriptor,
  indexFromManifest,
  indexOfImages,
  isImageIndex,
  nameAnnotations,
  OCI_LAYOUT_BYTES,
  platformOf,
  readDocument,
  selectImage,
} from './image-index.js';
export {
  appendLayers,
  formatTimestamp,
  mapLayers,
  withConfig,
  withConfigFile,
  withCreated,
  withMediaTypes,
} from './mutate.js';
export type { ConfigSource, LayerInfo, ManifestSource, OpenerLayerOptions } from './partial.js';
export {
  convertMediaType,
  imageFromConfig,
  imageFromManifest,
  layerFromBytes,
  layerFromOpener,
  layerFromStore,
  lazyImage,
  lazyIndex,
  parseConfig,
  parseManifest,
  uncompressedSize,
  withLayerMediaType,
} from './partial.js';
export type { Expected, StoredBlob } from './stream.js';
export {
  assertDecompressible,
  CONFIG_LIMIT,
  decompress,
  hashStream,
  MANIFEST_LIMIT,
  mebibytes,
  readAll,
  storedBlobOf,
  tooLarge,
  verified,
  verifier,
} from './stream.js';
export type {
  Addendum,
  BlobOpener,
  BlobReader,
  Image,
  ImageIndex,
  IndexEntry,
  Layer,
  MediaTypeFlavor,
  NestedIndex,
} from './types.js';
