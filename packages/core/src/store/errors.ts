import { WharfError } from '../errors.js';

/** Stable codes for everything `store/` reports. */
export type StoreErrorCode =
  | 'STORE_NOT_FOUND'
  | 'STORE_DIGEST_MISMATCH'
  | 'STORE_SIZE_MISMATCH'
  | 'STORE_CORRUPT'
  | 'STORE_WRITER_CLOSED'
  | 'STORE_UNWRITABLE';

/** A `WharfError` whose code is one of {@link StoreErrorCode}; only the code type is narrowed. */
export class StoreError extends WharfError<StoreErrorCode> {
  override readonly name: string = 'StoreError';
}
