import { WharfError } from '../errors.js';

/** Stable codes for everything `image/` reports. */
export type ImageErrorCode =
  | 'IMAGE_INVALID_MANIFEST'
  | 'IMAGE_INVALID_CONFIG'
  | 'IMAGE_DIGEST_MISMATCH'
  | 'IMAGE_SIZE_MISMATCH'
  | 'IMAGE_TOO_LARGE'
  | 'IMAGE_INDEX_TOO_DEEP'
  | 'IMAGE_UNSUPPORTED_COMPRESSION'
  | 'IMAGE_COMPRESSION_FAILED'
  | 'IMAGE_ROOTFS_CHANGED'
  | 'IMAGE_NOT_FOUND'
  | 'IMAGE_AMBIGUOUS';

/** A `WharfError` whose code is one of {@link ImageErrorCode}; only the code type is narrowed. */
export class ImageError extends WharfError<ImageErrorCode> {
  override readonly name: string = 'ImageError';
}
