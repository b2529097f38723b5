export { dependencyOrder, pruneToTarget, stageDependencies, targetName } from './graph.js';
export type * from './types.js';
export type { Problem } from './validate.js';
export { assertValidGraph, isValidPortSpec, validateGraph } from './validate.js';
