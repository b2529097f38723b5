/**
 * Runs one stage: its instructions in order, over the base image, each through its own function
 * (steps/), layer steps through the one step runner (step-runner.ts). COPY/ADD/WORKDIR plan their
 * entries against an in-memory view of the filesystem (cheap, sequential: a destination's meaning
 * depends on what is already there) and then write their layers concurrently. The result is a lazy
 * Image whose history lists every step in order, with `empty_layer` for the steps that made none.
 */

import type { FileDigests } from '../cache/file-digests.js';
import type { CachedLayer, StepCache } from '../cache/step-cache.js';
import { instructionText } from '../dockerfile/emit/index.js';
import { lowerDockerfile } from '../dockerfile/lower/index.js';
import type { SourceLocation } from '../errors.js';
import { WharfError } from '../errors.js';
import type { EventSink } from '../events.js';
import { appendLayers, withConfigFile } from '../image/mutate.js';
import type { Addendum, Image, Layer } from '../image/types.js';
import type { FromRef, Instruction, Stage } from '../ir/types.js';
import type { MemoryFsView } from '../layer/fs-view.js';
import type { SourceTree } from '../layer/source.js';
import type { ContainerConfig, History, ImageConfig } from '../oci/types.js';
import type { SecretSource } from '../runtime/mounts.js';
import type { BlobStore } from '../store/store.js';
import type { LayerViews } from './layer-views.js';
import { type ConfigState, DEFAULT_PATH, envValue, setEnv } from './metadata.js';
import { envLookup, type GlobalScope, StageScope } from './scope.js';
import type { SourceResolver } from './sources.js';
import type { StageFiles } from './stage-files.js';
import { type Executed, type FinishedStep, type RecordedStep, StepRunner } from './step-runner.js';
import { runInstruction, type StepContext } from './steps/index.js';

/** What a stage starts from. */
export interface StageBase {
  readonly image: Image;
  readonly config: ImageConfig;
  /** The base's filesystem, as an index of paths (this stage adds to it). */
  readonly view: MemoryFsView;
  readonly files: StageFiles;
  /** Human text for progress: `scratch`, `alpine:3.20`, `stage build`. */
  readonly description: string;
  /** What the first step's cache key builds on: the base image's digest (or scratch + platform). */
  readonly key: string;
}

export interface StageContext {
  readonly store: BlobStore;
  readonly global: GlobalScope;
  /** The main build context, opened once per build. */
  readonly context: () => Promise<SourceTree>;
  /** Every stage name of the graph (for ONBUILD text). */
  readonly stageNames: readonly string[];
  /** Timestamps of history entries and layer files, in seconds since the epoch. */
  readonly epoch: number;
  readonly onEvent: EventSink;
  /** The step cache and the context files' stat cache; `noCache` skips lookups (results are still recorded). */
  readonly cache: StepCache;
  /** Told of every layer step's key and result in this stage, hit or run (for `--cache-to`). */
  readonly onStepRecord?: (key: string, layer: CachedLayer | null, step: RecordedStep) => void;
  readonly fileDigests: FileDigests;
  readonly noCache: boolean;
  /** The main context folder, for naming changed files in cache-miss explanations. */
  readonly contextRoot: string;
  /** Distinguishes this build definition's step positions from other projects' sharing the cache. */
  readonly slotPrefix: string;
  /** Other stages, images, named contexts and the snapshotter, for COPY --from and RUN. */
  readonly resolver: SourceResolver;
  /** `--secret` values by id. */
  readonly secrets: Readonly<Record<string, SecretSource>>;
  readonly signal?: AbortSignal;
  /** Layer views by diffID (cached on disk), to replay cached RUN layers into the stage's view. */
  readonly views: LayerViews;
  /** Called with each layer a step of `stage` made, once it is in the store. */
  readonly onLayer?: (layer: Layer, stage: string) => void;
  /** Whether COPY/ADD layers of `stage` are gzipped as they are written (an output will need them). */
  readonly gzipWhileWriting?: (stage: string) => boolean;
  /**
   * The build's COPY/ADD/WORKDIR layer writes by what their bytes depend on (steps/entries.ts
   * `shareKey`): the same entries in several platforms' stages are written once.
   */
  readonly layerWrites?: Map<string, Promise<Executed>>;
}

export interface StageResult {
  readonly image: Image;
  readonly view: MemoryFsView;
  readonly files: StageFiles;
}

interface Step {
  readonly history: History;
  readonly layer?: Promise<Layer>;
}

/** What changes as a stage runs: its config, author and steps so far. */
interface StageProgress {
  state: ConfigState;
  author?: string;
  readonly steps: Step[];
}

export async function runStage(stage: Stage, base: StageBase, ctx: StageContext): Promise<StageResult> {
  const created = new Date(ctx.epoch * 1000).toISOString().replace('.000Z', 'Z');
  // A base's ONBUILD triggers run first, in this stage, and are used up (BuildKit clears OnBuild).
  const { OnBuild: triggers, ...inherited } = base.config.config ?? {};
  const stageFrom = stageResolver(ctx.stageNames);
  const instructions = [
    ...onbuildTriggers(triggers ?? [], stageFrom),
    // an ONBUILD's --from stays a word when lowered; in this build it names a stage first
    ...stage.instructions.map((i) =>
      i.kind === 'onbuild' ? { ...i, instruction: withStageFroms(i.instruction, stageFrom) } : i,
    ),
  ];
  const progress: StageProgress = { state: { config: withDefaultPath(inherited), cmdSet: false }, steps: [] };
  const run: StageRun = {
    stage,
    base,
    ctx,
    created,
    progress,
    scope: new StageScope(ctx.global),
    // The chain of step keys starts at the base: its digest, or scratch for the target platform.
    runner: new StepRunner({
      store: ctx.store,
      cache: ctx.cache,
      noCache: ctx.noCache,
      baseKey: base.key,
      views: ctx.views,
      ...(ctx.onStepRecord ? { onRecord: ctx.onStepRecord } : {}),
    }),
  };
  ctx.onEvent({ type: 'stage-started', stage: stage.name, base: base.description });
  for (const [index, instruction] of instructions.entries()) {
    try {
      await runInstruction(instruction, stepContext(run, index, instruction));
    } catch (error) {
      throw located(error, stage, index, instruction.source);
    }
  }

  const addenda: Addendum[] = [];
  for (const step of progress.steps)
    if (step.layer) addenda.push({ layer: await step.layer, history: step.history });
  const { config } = progress.state;
  const author = progress.author;
  const image = withConfigFile(appendLayers(base.image, ...addenda), (file) => ({
    ...file,
    created,
    ...(author === undefined ? {} : { author }),
    config: cleanConfig(config),
    history: [...(base.config.history ?? []), ...progress.steps.map((s) => s.history)],
  }));
  return { image, view: base.view, files: base.files };
}

/** One stage's run: what every step of it shares. */
interface StageRun {
  readonly stage: Stage;
  readonly base: StageBase;
  readonly ctx: StageContext;
  readonly created: string;
  readonly progress: StageProgress;
  readonly scope: StageScope;
  readonly runner: StepRunner;
}

/** The context of step `index`: its facts, its events (which carry the stage and step) and its record. */
function stepContext(run: StageRun, index: number, instruction: Instruction): StepContext {
  const { stage, base, ctx, progress, scope } = run;
  const text = instructionText(instruction, ctx.stageNames);
  const started = Date.now();
  const where = { stage: stage.name, step: index + 1 };
  ctx.onEvent({ type: 'step-started', ...where, text });
  const state = progress.state;
  const earlier = progress.steps.slice();
  return {
    stage,
    base,
    ctx,
    scope,
    runner: run.runner,
    index,
    text,
    slot: `${ctx.slotPrefix}\0${stage.name}\0${index}`,
    lookup: scope.lookup(envLookup(state.config.Env)),
    state,
    report: {
      finished: (result: FinishedStep = {}) =>
        ctx.onEvent({
          type: 'step-finished',
          ...where,
          text,
          ms: Date.now() - started,
          ...(result.layer ? { layer: result.layer } : {}),
          ...(result.cached ? { cached: true } : {}),
          ...(result.miss ? { miss: result.miss } : {}),
          ...(result.phases ? { phases: result.phases } : {}),
        }),
    },
    setState: (next) => {
      progress.state = next;
    },
    setAuthor: (author) => {
      progress.author = author;
    },
    facts: (files, secrets) => ({
      config: JSON.stringify(state.config),
      args: scope.keyArgs(),
      instruction: text,
      files,
      ...(secrets ? { secrets } : {}),
      epoch: ctx.epoch,
    }),
    record: (layer) => {
      if (layer && ctx.onLayer) layer.then((l) => ctx.onLayer?.(l, stage.name)).catch(() => {});
      const history: History = {
        created: run.created,
        created_by: text,
        ...(layer ? {} : { empty_layer: true }),
      };
      progress.steps.push(layer ? { history, layer } : { history });
    },
    layersBelow: async () => {
      const below = [...(await base.image.layers())];
      // the steps before this one, whenever this is called (by then this step may have recorded its own)
      for (const step of earlier) if (step.layer) below.push(await step.layer);
      return below;
    },
    log: (line) => ctx.onEvent({ type: 'log', ...where, text: line }),
  };
}

/**
 * A base image's ONBUILD triggers (Dockerfile text) as instructions. A trigger's `--from=<name>` (and
 * RUN `--mount from=`) names a stage of the child's build first, an image otherwise, as in BuildKit.
 */
function onbuildTriggers(
  triggers: readonly string[],
  stageFrom: (from: FromRef) => FromRef,
): readonly Instruction[] {
  if (triggers.length === 0) return [];
  const file = 'ONBUILD trigger of the base';
  const lowered = lowerDockerfile(`FROM scratch\n${triggers.join('\n')}\n`, { file }).stages[0];
  return (lowered?.instructions ?? []).map((i) => withStageFroms(i, stageFrom));
}

/** An image reference spelt like a stage of this build (any case) names that stage. */
function stageResolver(stageNames: readonly string[]): (from: FromRef) => FromRef {
  const byName = new Map(stageNames.map((name) => [name.toLowerCase(), name]));
  return (from) => {
    if (from.kind !== 'image') return from;
    const stage = byName.get(from.ref.toLowerCase()); // a ref with `$…` never matches a stage name
    return stage === undefined ? from : { kind: 'stage', stage };
  };
}

function withStageFroms<T extends Instruction>(instruction: T, stageFrom: (from: FromRef) => FromRef): T {
  if (instruction.kind === 'copy' && instruction.from)
    return { ...instruction, from: stageFrom(instruction.from) };
  if (instruction.kind === 'run' && instruction.mounts) {
    const mounts = instruction.mounts.map((m) =>
      'from' in m && m.from ? { ...m, from: stageFrom(m.from) } : m,
    );
    return { ...instruction, mounts };
  }
  return instruction;
}

/** BuildKit gives a Linux stage the default PATH when its image has none. */
function withDefaultPath(config: ContainerConfig): ContainerConfig {
  const env = config.Env ?? [];
  return envValue(env, 'PATH') === undefined ? { ...config, Env: setEnv(env, 'PATH', DEFAULT_PATH) } : config;
}

/** Drops empty optional fields so the config reads like Docker's. */
function cleanConfig(config: ContainerConfig): ContainerConfig {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    if (value === undefined) continue;
    out[key] = value;
  }
  return out as ContainerConfig;
}

/** Adds the stage and instruction to an error from a step, keeping its code and hint. */
function located(error: unknown, stage: Stage, index: number, source: SourceLocation | undefined): unknown {
  if (!(error instanceof WharfError)) return error;
  const where = `stage "${stage.name}", instruction ${index + 1}`;
  if (error.message.startsWith(where)) return error;
  return new WharfError(error.code, `${where}: ${error.message}`, {
    hint: error.hint,
    cause: error,
    location: error.location ?? source,
  });
}
