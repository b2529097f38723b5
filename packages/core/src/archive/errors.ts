import { WharfError } from '../errors.js';

/** Stable codes for everything `archive/` reports. */
export type ArchiveErrorCode =
  | 'ARCHIVE_NOT_TAR'
  | 'ARCHIVE_COMPRESSED'
  | 'ARCHIVE_MISSING_ENTRY'
  | 'ARCHIVE_INVALID_MANIFEST'
  | 'ARCHIVE_NOT_FOUND'
  | 'ARCHIVE_AMBIGUOUS'
  | 'ARCHIVE_INVALID_NAME'
  | 'ARCHIVE_WRITE_FAILED'
  | 'ARCHIVE_INVALID_ENTRY'
  | 'ARCHIVE_BLOB_SIZE_MISMATCH'
  | 'ARCHIVE_TOO_LARGE';

/** A `WharfError` whose code is one of {@link ArchiveErrorCode}; only the code type is narrowed. */
export class ArchiveError extends WharfError<ArchiveErrorCode> {
  override readonly name: string = 'ArchiveError';
}
