/**
 * @wharf/core — build container images from TypeScript.
 *
 * @example
 * import { stage, toGraph, emitDockerfile } from '@wharf/core';
 * const app = stage('app').from('node:20-alpine').workdir('/app').copy('.', '.').cmd(['node', 'server.js']);
 * console.log(emitDockerfile(toGraph(app)).dockerfile);
 */

/** oci-archive and docker-archive tar files: read and write. */
export * as archive from './archive/index.js';
export { readDockerArchive, readOciArchive } from './archive/index.js';
export type { BuildApiOptions, BuildApiResult, OutputResult, PlatformResult, StepTiming } from './build.js';
export { build } from './build.js';
/** The step cache: summary and pruning (`wharf cache`). */
export type { CacheSummary, PruneOptions } from './cache/index.js';
export { cacheSummary, parseSize, pruneCache } from './cache/index.js';
export type { CodegenOptions } from './dockerfile/codegen/index.js';
export { generateBuildTs } from './dockerfile/codegen/index.js';
export type { EmittedDockerfile } from './dockerfile/emit/index.js';
export { emitDockerfile } from './dockerfile/emit/index.js';
export type { DockerfileLowerErrorCode, LowerOptions } from './dockerfile/lower/index.js';
export { DockerfileLowerError, lowerDockerfile } from './dockerfile/lower/index.js';
export type { ParseResult } from './dockerfile/parse/index.js';
export { parseDockerfile } from './dockerfile/parse/index.js';
/** Presets for the chores of a good final image: a non-root user, OCI labels, an HTTP health check, apt. */
export type { HttpCheckOptions } from './dsl/healthcheck.js';
export { http } from './dsl/healthcheck.js';
export * from './dsl/index.js';
export type { OciLabels } from './dsl/labels.js';
export { ociLabels } from './dsl/labels.js';
export { APT_KEEP_CACHE, aptInstall } from './dsl/mounts.js';
export type { NonRootUserOptions } from './dsl/user.js';
export { nonRootUser } from './dsl/user.js';
/** Base images pulled before, reused without the registry (`wharf pull` records them too). */
export { cachedBase, recordBase } from './engine/base-records.js';
export type { BuildOptions, BuildResult, BuiltImage } from './engine/build.js';
export { buildGraph, buildImage } from './engine/build.js';
export type { DockerBuildOptions, DockerBuildResult } from './engine/docker-backend.js';
export { buildWithDocker } from './engine/docker-backend.js';
export type { SourceLocation, WharfErrorOptions } from './errors.js';
export { fileSystemProblem, formatLocation, isWharfError, WharfError } from './errors.js';
export type { BuildEvent, EventSink } from './events.js';
export type { OutputSpec } from './export/index.js';
export { checkDestination, checkOutput, exportImage, parseOutput } from './export/index.js';
/** Image values (ggcr-style): Layer, Image, ImageIndex, and pure mutations over them. */
export * as images from './image/index.js';
export type { Image, ImageIndex, Layer } from './image/types.js';
export type { Entitlement, Problem } from './ir/index.js';
export {
  assertEntitled,
  assertValidGraph,
  dependencyOrder,
  ENTITLEMENTS,
  isValidPortSpec,
  parseEntitlement,
  pruneToTarget,
  stageDependencies,
  targetName,
  validateGraph,
} from './ir/index.js';
/** The IR types (`ir.BuildGraph`, `ir.Instruction`, `ir.Stage` …). */
export type * as ir from './ir/types.js';
export type { BuildGraph, Instruction } from './ir/types.js';
/** OCI image layout directories: read and write. */
export * as layout from './layout/index.js';
export { readLayout } from './layout/index.js';
/** Best-practice findings over the IR (`wharf lint`): hadolint ids, BuildKit check names, wharf's own. */
export type {
  Finding,
  LintConfig,
  LintFormat,
  LintOptions,
  Rule,
  RuleSetting,
  Severity,
} from './lint/index.js';
export {
  formatFindings,
  LINT_CONFIG_FILE,
  LINT_FORMATS,
  lintDockerfile,
  lintGraph,
  lintRules,
  parseLintConfig,
  reaches,
  ruleDocsUrl,
  SEVERITIES,
} from './lint/index.js';
/** wharf.lock: base image tags pinned to their index digests; `lock.lockedGraph` pins a build to it. */
export * as lock from './lock/index.js';
/** OCI image-spec model: digests, media types, platforms, references, documents. */
export * as oci from './oci/index.js';
/** The whole build cache (step records, blobs, RUN snapshots, cache mounts): usage and pruning. */
export type { BuildCachePruneResult, BuildCacheUsage } from './prune.js';
export { buildCacheUsage, pruneBuildCache } from './prune.js';
/** The registry client: pull (a lazy source), push (a resumable sink), login, errors and events. */
export type {
  Credentials,
  LoginOptions,
  LoginResult,
  PullOptions,
  PullResult,
  PushOptions,
  PushResult,
  PushStats,
  RegistryErrorCode,
  RegistryEvent,
  RegistryEventSink,
  RegistryOptions,
  UploadSession,
  UploadSessions,
} from './registry/index.js';
/** The registry endpoint `sign.attachArtifact` and `sign.listReferrers` speak through. */
export {
  fileUploadSessions,
  login,
  memoryUploadSessions,
  originOf,
  pullImage,
  pushImage,
  pushIndex,
  RegistryClient,
  RegistryError,
  registrySettings,
  remoteImage,
  remoteIndex,
} from './registry/index.js';
/** SBOMs: catalogue an image's packages (dpkg, apk, node_modules, python) → SPDX 2.3 / CycloneDX 1.6 JSON. */
export * as sbom from './sbom/index.js';
/** Attestations: SLSA v1 provenance statements, the git source of a context, OCI 1.1 referrers. */
export * as sign from './sign/index.js';
export type { BlobStore } from './store/index.js';
export { defaultStoreRoot, openStore } from './store/index.js';
