export type { SourceLocation } from '../errors.js';
export { formatLocation } from '../errors.js';
export type { Entitlement } from './entitlements.js';
export { assertEntitled, ENTITLEMENTS, parseEntitlement } from './entitlements.js';
export { dependencyOrder, pruneToTarget, stageDependencies, targetName } from './graph.js';
export type * from './types.js';
export type { Problem } from './validate.js';
export { assertValidGraph, isValidPortSpec, validateGraph } from './validate.js';
