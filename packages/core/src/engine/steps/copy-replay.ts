/**
 * A warm COPY from the build context without planning it again. Planning a 26 000-file COPY and
 * keying it (every file's entry, its digest from the stat cache, the key over all of them) cost a
 * second on every build, even when nothing in it changed. So when such a step is recorded, its
 * position keeps a replay record: the questions the planner asked the context (layer/source-reads.ts)
 * and its key, under a condition that is a digest of everything else planning depends on:
 *
 * - the chain key below the step (the base image and every step before it, which fixes the image's
 *   files the COPY lands on, and the owners `--chown` names);
 * - the step's facts but its files (config, ARGs in scope, the instruction text, the epoch);
 * - the digest of the context's answers to those questions (names, types, modes, sizes, mtimes,
 *   inodes, devices, link counts and targets: what the stat cache trusts for content).
 *
 * A later build at the same position asks the same questions, and when the condition is the same it
 * takes the recorded key's layer as a hit, as COPY --from does with a source digest. Anything else
 * (a changed file, another base, no record, a stale one, a lookup that fails) plans the step as before.
 */
import { createHash } from 'node:crypto';
import type { Layer } from '../../image/types.js';
import type { SourceTree } from '../../layer/source.js';
import { recordReads, replayReads } from '../../layer/source-reads.js';
import type { StepContext } from './context.js';

/**
 * The step's layer when its replay record holds: its view and files are the stage's from now on, and
 * the step is reported and recorded as a hit. Undefined: plan it.
 */
export async function replayCopy(step: StepContext): Promise<Layer | undefined> {
  const { ctx, runner } = step;
  if (!runner.replays) return undefined;
  const record = await ctx.cache.replayAt(step.slot);
  if (!record) return undefined;
  let reads: string | undefined;
  try {
    reads = await replayReads(await ctx.context(), record.body);
  } catch {
    return undefined; // planning reports it in COPY's words
  }
  if (!reads || conditionOf(runner.chain, step, reads) !== record.condition) return undefined;
  return runner.replay(step.slot, record.key, step.report);
}

/**
 * `tree` recording what planning reads from it, and what keeps the replay record once the step's key
 * is known (call it then; the chain below the step is taken now).
 */
export function recordingReads(
  tree: SourceTree,
  step: StepContext,
): { tree: SourceTree; recorded(key: string): Promise<void> } {
  const below = step.runner.chain;
  const recording = recordReads(tree);
  return {
    tree: recording.tree,
    recorded: async (key) => {
      if (!step.runner.replays) return;
      const { record, digest } = recording.reads();
      if (digest === '-') return; // a question still unanswered: nothing to prove a replay with
      const condition = conditionOf(below, step, digest);
      await step.ctx.cache.rememberReplay(step.slot, { condition, key }, record);
    },
  };
}

/** Bumped when what the condition covers changes: older records then never hold. */
const CONDITION_VERSION = 2;

function conditionOf(below: string, step: StepContext, reads: string): string {
  const { config, args, instruction, epoch } = step.facts({});
  return createHash('sha256')
    .update(JSON.stringify([CONDITION_VERSION, below, config, [...args].sort(), instruction, epoch, reads]))
    .digest('hex');
}
