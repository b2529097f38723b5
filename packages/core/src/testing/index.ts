// The public names of `testing/` (`@wharf/core/testing`): fixtures and invariant checkers for tests.

export type { FileLayerOptions, RandomImageOptions, RandomLayerOptions } from './random.js';
export { fileLayer, randomImage, randomLayer, tarOf } from './random.js';
export type { AjvConstructor, AjvLike, SchemaChecker, SchemaKind } from './schema.js';
export { checkLayoutDocuments, schemaChecker, schemaKindOf } from './schema.js';
export type { ValidateOptions } from './validate.js';
export { imageProblems, indexProblems, ValidationError, validateImage, validateIndex } from './validate.js';
