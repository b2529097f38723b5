/**
 * The instructions that change only the image config or the stage's scope (BuildKit's dispatchEnv,
 * dispatchArg, dispatchMaintainer, dispatchOnbuild …): no filesystem effect, no layer, no cache key.
 */
import { instructionText } from '../../dockerfile/emit/index.js';
import { expandWord } from '../../ir/expand.js';
import type {
  ArgInstruction,
  EnvInstruction,
  MaintainerInstruction,
  OnbuildInstruction,
} from '../../ir/types.js';
import { applyMetadata, type MetadataInstruction } from '../metadata.js';
import { envLookup } from '../scope.js';
import type { StepContext } from './context.js';

/** ARG: declares names in the stage's scope (a build arg, its default, or the global value). */
export function argStep(instruction: ArgInstruction, step: StepContext): void {
  for (const decl of instruction.args) step.scope.declare(decl, envLookup(step.state.config.Env));
  finishEmpty(step);
}

/** ENV: sets variables in the config; a later ENV of an ARG's name wins over the ARG. */
export function envStep(instruction: EnvInstruction, step: StepContext): void {
  step.setState(applyMetadata(step.state, instruction, step.lookup));
  step.scope.envSet(instruction.vars.map((v) => expandWord(v.key, step.lookup)));
  finishEmpty(step);
}

/** LABEL, USER, EXPOSE, VOLUME, STOPSIGNAL, CMD, ENTRYPOINT, HEALTHCHECK, SHELL: config only. */
export function configStep(
  instruction: Exclude<MetadataInstruction, EnvInstruction | { kind: 'workdir' }>,
  step: StepContext,
): void {
  step.setState(applyMetadata(step.state, instruction, step.lookup));
  finishEmpty(step);
}

/** MAINTAINER: BuildKit sets the config's author, no label. */
export function maintainerStep(instruction: MaintainerInstruction, step: StepContext): void {
  step.setAuthor(instruction.name);
  finishEmpty(step);
}

/** ONBUILD: records the trigger's text in the config, for builds FROM this image. */
export function onbuildStep(instruction: OnbuildInstruction, step: StepContext): void {
  const config = step.state.config;
  const triggers = [...(config.OnBuild ?? []), instructionText(instruction.instruction, step.ctx.stageNames)];
  step.setState({ ...step.state, config: { ...config, OnBuild: triggers } });
  finishEmpty(step);
}

function finishEmpty(step: StepContext): void {
  step.record();
  step.report.finished();
}
