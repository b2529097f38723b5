export { FileDigests } from './file-digests.js';
export type { CacheSummary, PruneOptions } from './prune.js';
export { cacheSummary, pruneCache } from './prune.js';
export type { CachedLayer, StepInputs } from './step-cache.js';
export { explainDifference, parseSize, recordBytes, StepCache, stepKey } from './step-cache.js';
