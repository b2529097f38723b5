/**
 * One function per instruction kind, reached from one exhaustive switch (as `dockerfile/lower` and
 * `emit` do): config-only effects in config.ts, filesystem effects in workdir.ts, copy.ts and run.ts,
 * each layer through the one step runner (../step-runner.ts).
 */
import type { Instruction } from '../../ir/types.js';
import { argStep, configStep, envStep, maintainerStep, onbuildStep } from './config.js';
import type { StepContext } from './context.js';
import { copyStep } from './copy.js';
import { runInstructionStep } from './run.js';
import { workdirStep } from './workdir.js';

export type { StepContext } from './context.js';

/** Runs one instruction of a stage: its config effect, its layer, its history entry and its events. */
export async function runInstruction(instruction: Instruction, step: StepContext): Promise<void> {
  switch (instruction.kind) {
    case 'arg':
      return argStep(instruction, step);
    case 'env':
      return envStep(instruction, step);
    case 'maintainer':
      return maintainerStep(instruction, step);
    case 'onbuild':
      return onbuildStep(instruction, step);
    case 'label':
    case 'user':
    case 'expose':
    case 'volume':
    case 'stopsignal':
    case 'cmd':
    case 'entrypoint':
    case 'healthcheck':
    case 'shell':
      return configStep(instruction, step);
    case 'workdir':
      return workdirStep(instruction, step);
    case 'copy':
    case 'add':
      return copyStep(instruction, step);
    case 'run':
      return runInstructionStep(instruction, step);
    default:
      return unhandled(instruction);
  }
}

/** Every instruction kind is handled above; a new IR kind fails to type-check here. */
function unhandled(instruction: never): never {
  throw new Error(`unhandled instruction ${JSON.stringify(instruction)}`);
}
