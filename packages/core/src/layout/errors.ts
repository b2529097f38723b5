import { WharfError } from '../errors.js';

/** Stable codes for everything `layout/` reports. */
export type LayoutErrorCode =
  | 'LAYOUT_NOT_A_LAYOUT'
  | 'LAYOUT_UNSUPPORTED_VERSION'
  | 'LAYOUT_BLOB_MISSING'
  | 'LAYOUT_BLOB_NOT_A_FILE'
  | 'LAYOUT_BLOB_SIZE_MISMATCH'
  | 'LAYOUT_TOO_LARGE'
  | 'LAYOUT_DEST_IN_USE'
  | 'LAYOUT_WRITE_FAILED';

/** A `WharfError` whose code is one of {@link LayoutErrorCode}; only the code type is narrowed. */
export class LayoutError extends WharfError<LayoutErrorCode> {
  override readonly name: string = 'LayoutError';
}
