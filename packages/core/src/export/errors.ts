import { WharfError } from '../errors.js';

/** Stable codes for everything `export/` reports. */
export type ExportErrorCode =
  | 'EXPORT_INVALID_OUTPUT'
  | 'EXPORT_UNSUPPORTED'
  | 'EXPORT_NO_NAME'
  /** The destination exists and is neither a regular file (archives) nor a directory (`type=oci`). */
  | 'EXPORT_BAD_DEST'
  /** Writing the destination failed: a full disk, permissions, a read-only filesystem. */
  | 'EXPORT_WRITE_FAILED';

/** A `WharfError` whose code is one of {@link ExportErrorCode}; only the code type is narrowed. */
export class ExportError extends WharfError<ExportErrorCode> {
  override readonly name: string = 'ExportError';
}
