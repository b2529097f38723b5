// The public names of `dsl/` (`@wharf/core/dsl`): everything the root exports for build.ts authors, plus
// the option types, the preset option types and the guards tools use to load a build.ts. `Stage` is a
// type only: stages start with `stage()`.

export type { Definition, DefinitionInput, TargetSpec, ToGraphOptions } from './graph.js';
export { define, definitionPlatforms, isDefinition, targetNames, targetStage, toGraph } from './graph.js';
export type { HttpCheckOptions } from './healthcheck.js';
export { http } from './healthcheck.js';
export type { OciLabels } from './labels.js';
export { ociLabels } from './labels.js';
export type {
  BindMountOptions,
  CacheMountOptions,
  MountValue,
  SecretMountOptions,
  SourceValue,
  SshMountOptions,
  TmpfsMountOptions,
} from './mounts.js';
export { APT_KEEP_CACHE, aptInstall, bind, cache, secret, ssh, tmpfs } from './mounts.js';
export type { PlatformArg, PlatformArgName } from './platform-args.js';
export { buildPlatform, isPlatformArg, platformArgs } from './platform-args.js';
export type {
  AddOptions,
  CommandInput,
  CopyOptions,
  CopySource,
  FromOptions,
  HealthcheckOptions,
  RunOptions,
  Stage,
  StageStart,
} from './stage.js';
export { isStage, stage } from './stage.js';
export type { NonRootUser, NonRootUserOptions } from './user.js';
export { nonRootUser } from './user.js';
export type {
  ContextOptions,
  ContextValue,
  HeredocOptions,
  HeredocValue,
  ImageValue,
  ShellForm,
} from './values.js';
export { context, heredoc, image, sh } from './values.js';
