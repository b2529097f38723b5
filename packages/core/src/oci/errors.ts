import { WharfError } from '../errors.js';

/** Stable codes for everything `oci/` rejects. */
export type OciErrorCode =
  | 'OCI_INVALID_DIGEST'
  | 'OCI_UNSUPPORTED_DIGEST_ALGORITHM'
  | 'OCI_DIGEST_MISMATCH'
  | 'OCI_INVALID_PLATFORM'
  | 'OCI_INVALID_REFERENCE'
  | 'OCI_INVALID_JSON';

/** A `WharfError` whose code is one of {@link OciErrorCode}; only the code type is narrowed. */
export class OciError extends WharfError<OciErrorCode> {
  override readonly name: string = 'OciError';
}
