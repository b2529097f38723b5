// The public names of `layout/`: OCI image layout directories as a source and a sink.

export type { LayoutErrorCode } from './errors.js';
export { LayoutError } from './errors.js';
export type { ReadLayoutOptions } from './read.js';
export { blobPath, openBlob, openLayout, readLayout } from './read.js';
export type { LayoutInput, LayoutResult } from './write.js';
export { appendImage, writeLayout } from './write.js';
