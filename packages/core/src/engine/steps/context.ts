/**
 * What each instruction's function gets: the stage being built (its view, files and config state),
 * the build's services, the step runner, and this step's facts (index, text, slot, lookup, report).
 */

import type { Layer } from '../../image/types.js';
import type { Lookup } from '../../ir/expand.js';
import type { Stage } from '../../ir/types.js';
import type { ConfigState } from '../metadata.js';
import type { StageScope } from '../scope.js';
import type { StageBase, StageContext } from '../stage.js';
import type { StepFacts, StepReport, StepRunner } from '../step-runner.js';

export interface StepContext {
  readonly stage: Stage;
  /** The stage's base; its `view` and `files` are the stage's filesystem so far (steps add to them). */
  readonly base: StageBase;
  readonly ctx: StageContext;
  readonly scope: StageScope;
  readonly runner: StepRunner;
  /** The step's number in the stage, from 0 (ONBUILD triggers of the base first). */
  readonly index: number;
  /** The instruction as Dockerfile text (progress, history, cache key). */
  readonly text: string;
  /** The step's position for miss explanations: build definition, stage, index. */
  readonly slot: string;
  /** ARGs and ENV as this step sees them. */
  readonly lookup: Lookup;
  readonly report: StepReport;
  /** The stage's config (and whether CMD was set) before this step. */
  readonly state: ConfigState;
  /** Replaces the stage's config state (config-only instructions). */
  setState(state: ConfigState): void;
  /** Sets the image config's author (MAINTAINER). */
  setAuthor(author: string): void;
  /** The key facts of this step reading `files` (and mounting `secrets`): config, ARGs, text, epoch. */
  facts(files: Record<string, string>, secrets?: readonly string[]): StepFacts;
  /** Adds this step to the image's history: with its layer (written by now or later), or none. */
  record(layer?: Promise<Layer>): void;
  /** The layers below this step (the base's and the stage's so far), once each is written. */
  layersBelow(): Promise<Layer[]>;
  /** Emits a line of the step's output. */
  log(text: string): void;
}
