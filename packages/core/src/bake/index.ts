// The public names of `bake/` (`@wharf/core/bake`): `bake()` (also at the root), its options and result,
// the plan it resolves (`--print`) and the metadata file it writes (`--metadata-file`).

export type { BakeOptions, BakeResult, BakeTargetResult } from './bake.js';
export { bake, bakeMetadata } from './bake.js';
export type { BakePlan, BakePlanTarget } from './plan.js';
export { planJson, resolvePlan } from './plan.js';
