export { FileDigests } from './file-digests.js';
export { explainDifference } from './miss-explanation.js';
export type { CacheSummary, PruneOptions } from './prune.js';
export { cacheSummary, pruneCache } from './prune.js';
export type {
  CacheExportOptions,
  CacheMode,
  CacheSource,
  CacheSpec,
  ExportedCache,
  RemoteCacheOptions,
} from './remote.js';
export {
  cacheRepositories,
  DEFAULT_MOUNT_LIMIT,
  describeCacheSpec,
  exportCache,
  importCache,
  parseCacheSpec,
} from './remote.js';
export type { CacheMountRecord, CacheRecord, EncodedCache } from './remote-format.js';
export { CACHE_CONFIG_MEDIA_TYPE, decodeCacheManifest, encodeCacheManifest } from './remote-format.js';
export type { CachedLayer, StepInputs, StepLookup } from './step-cache.js';
export { parseSize, recordBytes, StepCache, stepKey } from './step-cache.js';
