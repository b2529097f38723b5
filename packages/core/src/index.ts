// The public API of @wharf/core: named exports only.
export { WharfError, formatLocation, isWharfError } from './errors.js';
export type { SourceLocation, WharfErrorOptions } from './errors.js';
export type * from './ir/types.js';
