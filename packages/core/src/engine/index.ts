// The public names of `engine/` (`@wharf/core/engine`): the direct builder one level below `build()` (a graph
// in, an Image value out, no outputs written), the docker backend, the build cache on disk (its store, usage
// and pruning), the remote cache's spec parser (`--cache-to`/`--cache-from`) and the base-image records
// `wharf pull` keeps.

export type { CacheMode, CacheSpec } from '../cache/index.js';
export { CACHE_CONFIG_MEDIA_TYPE, parseCacheSpec, parseSize } from '../cache/index.js';
export type { BlobStore, OpenStoreOptions } from '../store/index.js';
export { defaultStoreRoot, openStore } from '../store/index.js';
export { cachedBase, recordBase } from './base-records.js';
export type { BuildOptions, BuildResult, BuiltImage } from './build.js';
export { buildImage } from './build.js';
export type { DockerBuildOptions, DockerBuildResult } from './docker-backend.js';
export { buildWithDocker } from './docker-backend.js';
export type { BuildCacheListing, BuildCachePruneResult, BuildCacheUsage } from './prune.js';
export { buildCacheUsage, listBuildCache, pruneBuildCache } from './prune.js';
