// The public names of `runtime/`: RUN steps without a daemon (rootfs snapshots, OCI bundles, runc/crun).

export type {
  IdMapping,
  NetworkMode,
  ResolvedUser,
  RuntimeSpec,
  SpecHook,
  SpecInput,
  SpecMount,
} from './bundle.js';
export { createSpec, DEFAULT_CAPABILITIES, hostsFile, resolvConfFor } from './bundle.js';
export type { ChangeOptions, ChangeSet, OwnerMap, ScanOptions } from './changes.js';
export {
  applyChangeSet,
  OPAQUE_MARKER,
  overlayChanges,
  rootlessOwnerMap,
  scanChanges,
  WHITEOUT_PREFIX,
} from './changes.js';
export type { FindRuntimeOptions, RuntimeInfo } from './detect.js';
export { findRuntime } from './detect.js';
export type { EmulationOptions } from './emulation.js';
export { checkEmulation, needsEmulation } from './emulation.js';
export type { RunFailedDetails, RuntimeErrorCode } from './errors.js';
export { RunFailedError, RuntimeError } from './errors.js';
export type { ExtractFormat, ExtractOptions, ExtractResult } from './extract.js';
export { extractLayer } from './extract.js';
export type { CacheSharing, ResolvedMount, SecretSource } from './mounts.js';
export type {
  ContainerExit,
  OutputHandler,
  OutputStream,
  RunContainerOptions,
  RunStepOptions,
  RunStepResult,
  RunStepTimings,
} from './run.js';
export { runContainer, runStep, TAIL_LINES } from './run.js';
export type {
  DiffOptions,
  LayerUnpack,
  PrepareOptions,
  SnapshotLayer,
  SnapshotMode,
  SnapshotterOptions,
} from './snapshotter.js';
export { chainIds, defaultSnapshotRoot, Snapshot, Snapshotter } from './snapshotter.js';
export { resolveUser, resolveUserSpec } from './user.js';
