export { FileDigests } from './file-digests.js';
export { explainDifference } from './miss-explanation.js';
export type { CacheSummary, PruneOptions } from './prune.js';
export { cacheSummary, pruneCache } from './prune.js';
export type { CachedLayer, StepInputs, StepLookup } from './step-cache.js';
export { parseSize, recordBytes, StepCache, stepKey } from './step-cache.js';
