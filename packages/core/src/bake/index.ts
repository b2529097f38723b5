// The public names of `bake/` (`@wharf/core/bake`): `bake()` (also at the root), its options and result,
// the plan it resolves (`--print`), the metadata file it writes (`--metadata-file`), and the helpers
// that derive tags and labels from the repository (git.ts) and a package's context from its workspace
// (workspace.ts).

export type { BakeOptions, BakeResult, BakeTargetResult } from './bake.js';
export { bake, bakeMetadata } from './bake.js';
export type { TargetChange } from './changes.js';
export type { GitLabelOptions, GitState, ImageTagOptions } from './git.js';
export { gitLabels, gitState, imageTags, packageVersion, semverTags } from './git.js';
export type { BakePlan, BakePlanTarget, PlanOptions } from './plan.js';
export { planJson, resolvePlan } from './plan.js';
export type { WorkspaceContextOptions, WorkspaceSubset } from './workspace.js';
export { workspaceContext, workspaceSubset } from './workspace.js';
