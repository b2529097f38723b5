/**
 * RUN: resolves the mounts (run-step.ts), then through the step runner runs the command in an OCI
 * runtime over a snapshot of the layers below (runtime/) and turns the change set into a layer. The
 * layer, new or cached, is replayed into the stage's view so later COPY/WORKDIR steps plan against it.
 */
import type { Layer } from '../../image/types.js';
import type { RunInstruction } from '../../ir/types.js';
import { writeLayer } from '../../layer/layer-writer.js';
import { cacheMountId } from '../../runtime/mounts.js';
import { defaultCacheRoot, runStep } from '../../runtime/run.js';
import { restoreCacheMounts } from '../cache-mounts.js';
import { type ResolvedRun, type RunMountContext, resolveRun } from '../run-step.js';
import { openMountSource, treeIdentity } from '../sources.js';
import type { StageContext } from '../stage.js';
import type { Executed, StepOutcome } from '../step-runner.js';
import type { StepContext } from './context.js';

export async function runInstructionStep(instruction: RunInstruction, step: StepContext): Promise<void> {
  const { base, ctx } = step;
  // RUN sees the layers below it, so earlier layers of the stage must be written first.
  const below = await step.layersBelow();
  const resolved = await resolveRun(instruction, step.state.config, step.lookup, runMountContext(ctx));
  const cwd = step.state.config.WorkingDir || '/';
  for (const mount of resolved.mounts) {
    if (mount.type === 'cache') ctx.cache.useMount(cacheMountId(mount, cwd), step.stage.name);
  }
  let outcome: StepOutcome;
  try {
    outcome = await step.runner.run(
      {
        slot: step.slot,
        facts: step.facts(resolved.inputs, resolved.secretIds),
        execute: () => execute({ instruction, resolved, below, step }),
      },
      step.report,
    );
  } finally {
    await resolved.release();
  }
  if (outcome.kind === 'empty') {
    step.record();
    return;
  }
  await ctx.views.apply(base.view, outcome.layer);
  base.files.recordLayer(outcome.layer);
  step.record(Promise.resolve(outcome.layer));
}

interface ExecuteOptions {
  readonly instruction: RunInstruction;
  readonly resolved: ResolvedRun;
  readonly below: readonly Layer[];
  readonly step: StepContext;
}

/** Runs the command and writes what it changed as a layer (none when it changed nothing). */
async function execute({ instruction, resolved, below, step }: ExecuteOptions): Promise<Executed> {
  const { ctx } = step;
  const config = step.state.config;
  const snapshotter = await ctx.resolver.snapshotter();
  // --cache-from with mounts: a cache mount this machine lacks is filled before its first use
  await restoreCacheMounts(
    resolved.mounts,
    config.WorkingDir || '/',
    { cache: ctx.cache, store: ctx.store, cacheRoot: defaultCacheRoot(snapshotter.root) },
    (message) => ctx.onEvent({ type: 'warning', message }),
  );
  const result = await runStep({
    snapshotter,
    layers: below,
    command: resolved.command,
    // ARG and ENV of one name: the later assignment wins (scope.ts).
    env: step.scope.runEnv(config.Env ?? []),
    ...(config.User ? { user: config.User } : {}),
    cwd: config.WorkingDir || '/',
    mounts: resolved.mounts,
    network: instruction.network ?? 'default',
    ...(instruction.security ? { security: instruction.security } : {}),
    secrets: ctx.secrets,
    onOutput: (line) => step.log(line),
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  });
  const release = () => result.release();
  try {
    const { prepareMs: prepare, runMs: run, diffMs: diff } = result.timings;
    if (result.entries.length === 0) return { phases: { prepare, run, diff }, release };
    const writing = Date.now();
    const info = await writeLayer(ctx.store, result.entries, { mtime: ctx.epoch, compression: 'none' });
    const write = Date.now() - writing;
    await Promise.all([result.commitSnapshot(info.diffId), ctx.views.remember(info.diffId, result.entries)]);
    return { layer: info, phases: { prepare, run, diff, write }, release };
  } catch (error) {
    await release();
    throw error;
  }
}

/** How RUN mounts reach the context, other stages, images and named contexts. */
function runMountContext(ctx: StageContext): RunMountContext {
  return {
    contextDir: ctx.contextRoot,
    contextIdentity: async (path) => treeIdentity(await ctx.context(), path, ctx.fileDigests),
    openFrom: (from) => openMountSource(from, ctx.resolver, ctx.fileDigests),
  };
}
