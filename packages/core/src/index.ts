/**
 * @wharf/core — build container images from TypeScript.
 *
 * The root holds what a build.ts author and a build script need: the DSL, `define`, `build`, Dockerfile
 * emit / read / convert, lint, errors and event types. Lower-level modules are subpath exports
 * (`@wharf/core/oci`, `/bake`, `/registry`, `/image`, `/layout`, `/archive`, `/engine`, `/dockerfile`, `/ir`,
 * `/lint`, `/export`, `/sbom`, `/sign`, `/dsl`, `/testing`; README "Root and subpath exports").
 * `public-api.test.ts` keeps this list short (at most 40 names) and documented. One export block per area.
 *
 * @example
 * import { stage, toGraph, emitDockerfile } from '@wharf/core';
 * const app = stage('app').from('node:20-alpine').workdir('/app').copy('.', '.').cmd(['node', 'server.js']);
 * console.log(emitDockerfile(toGraph(app)).dockerfile);
 */

// ── The DSL: stages, sources, mounts, the definition, and presets for a good final image ──

export type { ContextValue, Definition, ImageValue, Stage } from './dsl/index.js';
export {
  aptInstall,
  bind,
  buildPlatform,
  cache,
  context,
  define,
  heredoc,
  http,
  image,
  nonRootUser,
  ociLabels,
  secret,
  sh,
  ssh,
  stage,
  tmpfs,
  toGraph,
} from './dsl/index.js';

// ── Building with the direct backend and writing outputs ──

export { bake } from './bake/index.js';
export type {
  BuildApiOptions,
  BuildApiResult,
  OutputResult,
  PlatformResult,
  StepTiming,
} from './build.js';
export { build } from './build.js';
export type { OutputSpec } from './export/index.js';

// ── Dockerfiles: emit one from the IR, read one into the IR, convert the IR to build.ts ──

export { generateBuildTs } from './dockerfile/codegen/index.js';
export { emitDockerfile } from './dockerfile/emit/index.js';
export { lowerDockerfile } from './dockerfile/lower/index.js';
export type { BuildGraph } from './ir/types.js';

// ── Lint: best-practice findings over the IR ──

export type { Finding } from './lint/index.js';
export { lintDockerfile, lintGraph } from './lint/index.js';

// ── Errors and events ──

export { isWharfError, WharfError } from './errors.js';
export type { BuildEvent, EventSink } from './events.js';
