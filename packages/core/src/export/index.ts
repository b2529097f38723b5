// The public names of `export/` (`@wharf/core/export`): `-o` parsing, dispatch to layout/, archive/ and registry/,
// and the one-line message for a filesystem error (full disk, permissions) where an output is written.

export { fileSystemProblem } from '../errors.js';
// The one atomic file writer (temp file beside the target, fsync, rename), for the CLI's own files.
export type { WriteFileAtomicOptions } from '../fsutil/files.js';
export { writeFileAtomic } from '../fsutil/files.js';
export type { CompressionSpec } from '../image/compression.js';
export { buildCompression, parseCompression } from './compression.js';
export { checkDestination, checkOutput } from './destination.js';
export type { ExportErrorCode } from './errors.js';
export { ExportError } from './errors.js';
export type { Exportable, ExportOptions, ExportResult } from './export.js';
export { dockerArchiveOfIndex, EXPORTERS, exportImage } from './export.js';
export type { OutputSpec, OutputType, ParsedOutput } from './output.js';
export { parseOutput, splitCsv } from './output.js';
