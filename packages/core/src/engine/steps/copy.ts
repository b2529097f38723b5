/**
 * COPY and ADD: plan the entries against the stage's view (a destination's meaning depends on what is
 * already there), then write their layer through the step runner. From another stage or an image the
 * key is known before anything is planned (the source's digest), so a hit costs no snapshot at all.
 */
import { WharfError } from '../../errors.js';
import type { Layer } from '../../image/types.js';
import { expandWord } from '../../ir/expand.js';
import type { AddInstruction, CopyInstruction, FromRef } from '../../ir/types.js';
import { resolveChown } from '../../layer/chown.js';
import { planCopy } from '../../layer/copy-plan.js';
import { openFrom, withBuildContext } from '../sources.js';
import type { StepContext } from './context.js';
import { recordingReads, replayCopy } from './copy-replay.js';
import { entriesStep, type PlannedEntries } from './entries.js';

export async function copyStep(
  instruction: CopyInstruction | AddInstruction,
  step: StepContext,
): Promise<void> {
  const { ctx, lookup } = step;
  const from =
    instruction.kind === 'copy' && instruction.from
      ? withBuildContext(instruction.from, ctx.resolver, (word) => expandWord(word, lookup))
      : undefined;
  if (from !== undefined && from.kind !== 'context') {
    const identity = await sourceIdentity(from, step);
    const layer = await step.runner.probe(
      step.slot,
      step.facts({ [`--from=${fromName(from)}`]: identity }),
      step.report,
    );
    if (layer) return takeHit(layer, step);
  }
  // A COPY from the build context: replayed when nothing it read has changed (copy-replay.ts).
  const replays = instruction.kind === 'copy' && from === undefined && !instruction.heredocs?.length;
  const replay = replays ? await replayCopy(step) : undefined;
  if (replay?.layer) return takeHit(replay.layer, step);
  let planned: PlannedEntries;
  try {
    planned = await copyEntries(instruction, from, step, replays);
  } finally {
    replay?.release();
  }
  await entriesStep(planned, step);
}

/** A hit found before planning: the cached layer is the stage's from now on. */
async function takeHit(layer: Layer, { ctx, base, record }: StepContext): Promise<void> {
  await ctx.views.apply(base.view, layer);
  base.files.recordLayer(layer);
  record(Promise.resolve(layer));
}

/** The entries of a COPY/ADD and what they read: file digests, or the --from source's digest. */
async function copyEntries(
  instruction: CopyInstruction | AddInstruction,
  from: FromRef | undefined, // with a --build-context folder already resolved to a context: keyed by its files
  step: StepContext,
  replays: boolean, // keep a replay record of the step once it is keyed
): Promise<PlannedEntries> {
  const { base, ctx, lookup } = step;
  const config = step.state.config;
  const expand = (word: string) => expandWord(word, lookup);
  if (instruction.heredocs?.length) {
    throw new WharfError(
      'ENGINE_HEREDOC_UNSUPPORTED',
      'COPY/ADD heredocs are not supported by the direct backend yet',
      {
        hint: 'put the content in a file in the build context and COPY it',
      },
    );
  }
  const sources = instruction.sources.map(expand);
  const remote = sources.find((s) => /^(https?|git):\/\/|^git@|\.git(#|$)/.test(s));
  if (instruction.kind === 'add' && remote !== undefined) {
    throw new WharfError(
      'ENGINE_ADD_REMOTE_UNSUPPORTED',
      `ADD ${remote}: remote sources are not supported by the direct backend yet`,
      {
        hint: 'download the file into the build context first, or use --backend docker',
      },
    );
  }
  const chown =
    instruction.chown === undefined
      ? undefined
      : await resolveChown(expand(instruction.chown), (path) => base.files.read(path));
  const opened = from === undefined ? undefined : await openFrom(from, ctx.resolver, expand);
  const reads = replays ? recordingReads(await ctx.context(), step) : undefined;
  try {
    const plan = await planCopy({
      instruction: instruction.kind === 'add' ? 'ADD' : 'COPY',
      sources,
      dest: expand(instruction.dest),
      workdir: config.WorkingDir || '/',
      source: opened ? opened.tree : (reads?.tree ?? (await ctx.context())),
      view: base.view,
      ...(chown ? { chown } : {}),
      ...(instruction.chmod === undefined ? {} : { chmod: expand(instruction.chmod) }),
      ...(instruction.exclude?.length ? { exclude: instruction.exclude.map(expand) } : {}),
      ...(instruction.kind === 'copy' && instruction.parents ? { parents: true } : {}),
    });
    // From another stage or image, its digest names the content; from a context, the file digests do
    // (entriesStep takes them from the stat cache, or while it writes the layer).
    const fromImage = opened !== undefined && from !== undefined && from.kind !== 'context';
    return {
      entries: plan.entries,
      ...(fromImage ? { files: { [`--from=${fromName(from)}`]: opened.identity } } : {}),
      ...(fromImage ? { sourceRoot: opened.dir } : {}),
      release: () => opened?.release() ?? Promise.resolve(),
      ...(reads ? { recorded: reads.recorded } : {}),
    };
  } catch (error) {
    await opened?.release();
    throw error;
  }
}

/** The content identity of a --from stage or image: its manifest digest. */
async function sourceIdentity(from: FromRef, { ctx, lookup }: StepContext): Promise<string> {
  if (from.kind === 'stage') return (await ctx.resolver.stageImage(from.stage)).digest();
  if (from.kind === 'image') return (await ctx.resolver.image(expandWord(from.ref, lookup))).digest();
  throw new Error('unreachable: named contexts are keyed by file digests');
}

/** How a --from source is named in cache-miss explanations: `stage build`, `image nginx:1.27`. */
function fromName(from: FromRef): string {
  return from.kind === 'stage'
    ? `stage ${from.stage}`
    : from.kind === 'image'
      ? `image ${from.ref}`
      : `context ${from.name}`;
}
