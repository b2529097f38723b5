import { WharfError } from '../errors.js';

/** Stable codes for everything `export/` reports. */
export type ExportErrorCode = 'EXPORT_INVALID_OUTPUT' | 'EXPORT_UNSUPPORTED' | 'EXPORT_NO_NAME';

/** A `WharfError` whose code is one of {@link ExportErrorCode}; only the code type is narrowed. */
export class ExportError extends WharfError<ExportErrorCode> {
  override readonly name: string = 'ExportError';
}
