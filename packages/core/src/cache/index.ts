export { FileDigests } from './file-digests.js';
export type { CachedLayer, StepInputs } from './step-cache.js';
export { explainDifference, recordBytes, StepCache, stepKey } from './step-cache.js';
