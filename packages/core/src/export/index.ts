// The public names of `export/`: `-o` parsing and dispatch to layout/ and archive/.

export { checkDestination, checkOutput } from './destination.js';
export type { ExportErrorCode } from './errors.js';
export { ExportError } from './errors.js';
export type { Exportable, ExportOptions, ExportResult } from './export.js';
export { dockerArchiveOfIndex, EXPORTERS, exportImage } from './export.js';
export type { OutputSpec, OutputType } from './output.js';
export { parseOutput, splitCsv } from './output.js';
