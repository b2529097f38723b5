export type { Definition, DefinitionInput, ToGraphOptions } from './graph.js';
export { define, isDefinition, targetNames, toGraph } from './graph.js';
export type { MountValue } from './mounts.js';
export { bind, cache, secret, ssh, tmpfs } from './mounts.js';
export type {
  AddOptions,
  CopyOptions,
  CopySource,
  FromOptions,
  HealthcheckOptions,
  RunOptions,
  StageStart,
} from './stage.js';
export { isStage, Stage, stage } from './stage.js';
export type { ContextValue, HeredocOptions, HeredocValue, ImageValue, ShellForm } from './values.js';
export { context, heredoc, image, sh } from './values.js';
