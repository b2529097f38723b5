/**
 * A warm COPY from the build context without planning it again. Planning a 26 000-file COPY and
 * keying it (every file's entry, its digest from the stat cache, the key over all of them) cost a
 * second on every build, even when nothing in it changed. So when such a step is recorded, its
 * position keeps a replay record: the questions the planner asked the context (layer/source-reads.ts)
 * and its key, under a condition that is a digest of everything else planning depends on:
 *
 * - the chain key below the step (the base image and every step before it), and the diffIDs of the
 *   layers below it (the files it lands on, and the owners `--chown` names: a RUN run again under
 *   the same key may have made others);
 * - the step's facts but its files (config, ARGs in scope, the instruction text, the epoch), taken
 *   when the step starts;
 * - the code that plans (the bundle's content-hashed name) and the step key's version;
 * - the digest of the context's answers to those questions (names, types, modes, sizes, mtimes,
 *   inodes, devices, link counts and targets: what the stat cache trusts for content).
 *
 * A later build at the same position asks the same questions, and when the condition is the same it
 * takes the recorded key's layer as a hit, as COPY --from does with a source digest. Anything else
 * (a changed file, another base, no record, a stale one, a lookup that fails) plans the step as before.
 */
import { createHash } from 'node:crypto';
import { KEY_VERSION } from '../../cache/step-cache.js';
import type { Layer } from '../../image/types.js';
import type { SourceTree } from '../../layer/source.js';
import { recordReads, replayReads } from '../../layer/source-reads.js';
import type { StepContext } from './context.js';

/**
 * The code that plans: the content-hashed name of the bundle it runs from (set by
 * packages/core/scripts/bundle.mjs), so a wharf that plans differently never takes an older one's
 * record; `source` when running from the sources (tests, development).
 */
declare const __wharf_core_body: string | undefined;
const CODE = typeof __wharf_core_body === 'string' ? __wharf_core_body : 'source';

/** Bumped when what the condition covers changes: older records then never hold. */
const CONDITION_VERSION = 3;

/** What a replay check came to: the step's layer, or what to call once the step is planned. */
export interface Replay {
  /** The cached layer when the record held: its view and files are the stage's from now on. */
  readonly layer?: Layer;
  /**
   * After a check that listed the context and failed: lets those listings go. The planning that
   * follows reads the same directories, so they are kept until then (call it once planned).
   */
  release(): void;
}

/**
 * Checks the step's replay record: when it holds, the step is reported and recorded as a hit and
 * its layer given; otherwise it is to be planned.
 */
export async function replayCopy(step: StepContext): Promise<Replay> {
  const { ctx, runner } = step;
  const none = { release: () => {} };
  if (!runner.replays) return none;
  const record = await ctx.cache.replayAt(step.slot);
  // A step below that changed changes the chain: no context is read to find that out.
  if (!record || record.chain !== chainHash(runner.chain)) return none;
  const landsOn = await landing(step);
  const tree = await ctx.context();
  const release = tree.hold?.() ?? (() => {});
  let reads: string | undefined;
  try {
    reads = await replayReads(tree, record.body);
  } catch {
    return { release }; // planning reports it in COPY's words
  }
  if (!reads || conditionOf(landsOn, reads) !== record.condition) return { release };
  release();
  const layer = await runner.replay(step.slot, record.key, step.report);
  return layer ? { layer, release } : none;
}

/**
 * `tree` recording what planning reads from it, and what keeps the replay record once the step's key
 * is known (call it then; what the step lands on is taken now).
 */
export function recordingReads(
  tree: SourceTree,
  step: StepContext,
): { tree: SourceTree; recorded(key: string): Promise<void> } {
  const below = step.runner.chain;
  const landsOn = landing(step);
  landsOn.catch(() => {}); // a layer below that failed fails the build; this record is not kept
  const recording = recordReads(tree);
  return {
    tree: recording.tree,
    recorded: async (key) => {
      if (!step.runner.replays) return;
      const { record, digest } = recording.reads();
      if (digest === '-') return; // a question still unanswered: nothing to prove a replay with
      const condition = conditionOf(await landsOn, digest);
      await step.ctx.cache.rememberReplay(step.slot, { chain: chainHash(below), condition, key }, record);
    },
  };
}

/**
 * What the step lands on and reads besides the context, taken when it starts: the chain key below it,
 * its facts but the files (config, ARGs in scope, text, epoch), and the diffIDs of the layers below
 * it. The chain alone does not pin them: a RUN that runs again under the same key (its record
 * pruned, or `--no-cache`) may make another layer, and the COPY's entries depend on the files it
 * lands on (existing directories, `--chown` names in /etc/passwd).
 */
async function landing(step: StepContext): Promise<string> {
  const below = step.runner.chain;
  const { config, args, instruction, epoch } = step.facts({});
  const layers = await Promise.all((await step.layersBelow()).map((layer) => layer.diffId()));
  return JSON.stringify([
    CONDITION_VERSION,
    KEY_VERSION,
    CODE,
    below,
    config,
    [...args].sort(),
    instruction,
    epoch,
    layers,
  ]);
}

function conditionOf(landsOn: string, reads: string): string {
  return createHash('sha256').update(landsOn).update('\0').update(reads).digest('hex');
}

function chainHash(chain: string): string {
  return createHash('sha256').update(chain).digest('hex');
}
