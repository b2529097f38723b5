/**
 * Runs one stage: its instructions in order, over the base image. Config effects go through
 * metadata.ts; COPY/ADD/WORKDIR plan their entries against an in-memory view of the filesystem (cheap,
 * sequential: a destination's meaning depends on what is already there) and then write their layers
 * concurrently (tar and hash, uncompressed: outputs compress on demand, see compress.ts). The result is a lazy Image whose
 * history lists every step in order, with `empty_layer` for the steps that made none.
 */

import { createHash } from 'node:crypto';
import { relative } from 'node:path';
import type { FileDigests, FileIdentity } from '../cache/file-digests.js';
import { type StepCache, type StepInputs, stepKey } from '../cache/step-cache.js';
import { instructionText } from '../dockerfile/emit/index.js';
import { lowerDockerfile } from '../dockerfile/lower/index.js';
import type { SourceLocation } from '../errors.js';
import { WharfError } from '../errors.js';
import type { EventSink } from '../events.js';
import { appendLayers, withConfigFile } from '../image/mutate.js';
import { type LayerInfo, layerFromStore } from '../image/partial.js';
import type { Addendum, Image, Layer } from '../image/types.js';
import { expandWord, type Lookup } from '../ir/expand.js';
import type {
  AddInstruction,
  CopyInstruction,
  FromRef,
  Instruction,
  RunInstruction,
  Stage,
  WorkdirInstruction,
} from '../ir/types.js';
import { resolveChown } from '../layer/chown.js';
import { planCopy } from '../layer/copy-plan.js';
import { applyEntries, type LayerEntry } from '../layer/entry.js';
import { type MemoryFsView, resolveInView } from '../layer/fs-view.js';
import { writeLayer } from '../layer/layer-writer.js';
import type { SourceTree } from '../layer/source.js';
import type { ContainerConfig, History, ImageConfig } from '../oci/types.js';
import type { SecretSource } from '../runtime/mounts.js';
import { runStep } from '../runtime/run.js';
import type { BlobStore } from '../store/store.js';
import { GZIP_LEVEL, rememberCompressed } from './compress.js';
import type { LayerViews } from './layer-views.js';
import {
  applyMetadata,
  type ConfigState,
  DEFAULT_PATH,
  envValue,
  isMetadataInstruction,
  resolveWorkdir,
  setEnv,
} from './metadata.js';
import { type ResolvedRun, type RunMountContext, resolveRun } from './run-step.js';
import { envLookup, type GlobalScope, StageScope } from './scope.js';
import { openFrom, type SourceResolver, treeIdentity, withBuildContext } from './sources.js';
import type { StageFiles } from './stage-files.js';

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
}

export interface StageResult {
  readonly image: Image;
  readonly view: MemoryFsView;
  readonly files: StageFiles;
}

/** Reports a step's end: its layer, whether it came from the cache (or why not), RUN phase times. */
type Finished = (
  layer?: { digest: string; size: number },
  cache?: { cached: boolean; miss?: string },
  phases?: Readonly<Record<string, number>>,
) => void;

interface Step {
  readonly history: History;
  readonly layer?: Promise<Addendum['layer']>;
}

export async function runStage(stage: Stage, base: StageBase, ctx: StageContext): Promise<StageResult> {
  const scope = new StageScope(ctx.global);
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
  let state: ConfigState = { config: withDefaultPath(inherited), cmdSet: false };
  const steps: Step[] = [];
  let author: string | undefined;
  // The chain of step keys starts at the base: its digest, or scratch for the target platform.
  let parent = base.key;
  let parentIsBase = true;
  ctx.onEvent({ type: 'stage-started', stage: stage.name, base: base.description });
  const made = (layer: Promise<Layer>): Promise<Layer> => {
    if (ctx.onLayer) layer.then((l) => ctx.onLayer?.(l, stage.name)).catch(() => {});
    return layer;
  };

  for (const [index, instruction] of instructions.entries()) {
    const text = instructionText(instruction, ctx.stageNames);
    const started = Date.now();
    ctx.onEvent({ type: 'step-started', stage: stage.name, step: index + 1, text });
    const lookup = scope.lookup(envLookup(state.config.Env));
    const history = (empty: boolean): History => ({
      created,
      created_by: text,
      ...(empty ? { empty_layer: true } : {}),
    });
    const finished: Finished = (layer, cache, phases) =>
      ctx.onEvent({
        type: 'step-finished',
        stage: stage.name,
        step: index + 1,
        text,
        ms: Date.now() - started,
        ...(layer ? { layer } : {}),
        ...(cache?.cached ? { cached: true } : {}),
        ...(cache?.miss ? { miss: cache.miss } : {}),
        ...(phases ? { phases } : {}),
      });
    const configBefore = state.config;
    /** What this step's cache key covers: the chain so far, the config and ARGs it sees, and `files`. */
    const inputsFor = (files: Record<string, string>, secrets?: readonly string[]): StepInputs => ({
      parent,
      parentIsBase,
      config: JSON.stringify(configBefore),
      args: scope.keyArgs(),
      instruction: text,
      files,
      ...(secrets ? { secrets } : {}),
      epoch: ctx.epoch,
    });
    try {
      if (instruction.kind === 'arg') {
        for (const decl of instruction.args) scope.declare(decl, envLookup(state.config.Env));
        steps.push({ history: history(true) });
        finished();
        continue;
      }
      if (instruction.kind === 'maintainer') {
        author = instruction.name; // BuildKit sets the config's author, no label
        steps.push({ history: history(true) });
        finished();
        continue;
      }
      if (instruction.kind === 'onbuild') {
        const triggers = [
          ...(state.config.OnBuild ?? []),
          instructionText(instruction.instruction, ctx.stageNames),
        ];
        state = { ...state, config: { ...state.config, OnBuild: triggers } };
        steps.push({ history: history(true) });
        finished();
        continue;
      }
      const slot = `${ctx.slotPrefix}\0${stage.name}\0${index}`;
      if (instruction.kind === 'run') {
        // RUN sees the layers below it, so earlier layers of the stage must be written first.
        const below = [...(await base.image.layers())];
        for (const step of steps) if (step.layer) below.push(await step.layer);
        const resolved = await resolveRun(instruction, configBefore, lookup, runMountContext(ctx));
        const inputs = inputsFor(resolved.inputs, resolved.secretIds);
        const key = stepKey(inputs);
        parent = key;
        parentIsBase = false;
        const layer = await runLayer(
          key,
          inputs,
          slot,
          below,
          resolved,
          instruction,
          configBefore,
          scope,
          stage,
          ctx,
          finished,
        );
        if (layer) {
          await ctx.views.apply(base.view, layer);
          base.files.recordLayer(layer);
          steps.push({ history: history(false), layer: made(Promise.resolve(layer)) });
        } else {
          steps.push({ history: history(true) });
        }
        continue;
      }
      let planned: PlannedEntries = { entries: [], files: {}, release: async () => {} };
      if (isMetadataInstruction(instruction)) {
        if (instruction.kind === 'workdir') {
          const entries = await workdirEntries(instruction, state.config, base, lookup);
          planned = { entries, files: await entryDigests(entries, ctx), release: async () => {} };
        }
        state = applyMetadata(state, instruction, lookup);
        if (instruction.kind === 'env') scope.envSet(instruction.vars.map((v) => expandWord(v.key, lookup)));
      } else if (instruction.kind === 'copy' || instruction.kind === 'add') {
        const from =
          instruction.kind === 'copy' && instruction.from
            ? withBuildContext(instruction.from, ctx.resolver, (word) => expandWord(word, lookup))
            : undefined;
        if (from !== undefined && from.kind !== 'context') {
          // The source's digest names what is copied, and the parent chain the image it lands in, so
          // the key is known before anything is mounted or planned: a hit costs no snapshot at all.
          const identity = await sourceIdentity(from, lookup, ctx);
          const inputs = inputsFor({ [`--from=${fromName(from)}`]: identity });
          const key = stepKey(inputs);
          const hit = ctx.noCache ? undefined : await ctx.cache.get(key);
          if (hit && (await ctx.store.has(hit.digest))) {
            parent = key;
            parentIsBase = false;
            await ctx.cache.remember(slot, inputs);
            const layer = storedLayer(ctx, hit);
            await ctx.views.apply(base.view, layer);
            base.files.recordLayer(layer);
            finished({ digest: hit.digest, size: hit.size }, { cached: true });
            steps.push({ history: history(false), layer: made(Promise.resolve(layer)) });
            continue;
          }
        }
        planned = await copyEntries(instruction, state.config, base, lookup, ctx);
      } else {
        unhandled(instruction);
      }
      const { entries } = planned;
      if (entries.length === 0) {
        await planned.release();
        steps.push({ history: history(true) });
        finished();
        continue;
      }
      applyEntries(base.view, entries);
      base.files.record(entries);
      const inputs = inputsFor(planned.files);
      const key = stepKey(inputs);
      parent = key;
      parentIsBase = false;
      const gzipToo = ctx.gzipWhileWriting?.(stage.name) ?? false;
      const layer = layerForStep(key, inputs, entries, slot, ctx, finished, gzipToo).finally(() =>
        planned.release(),
      );
      // Keep going: the next step only needs the view, which is already updated. Errors surface below.
      layer.catch(() => {});
      steps.push({ history: history(false), layer: made(layer) });
    } catch (error) {
      throw located(error, stage, index, instruction.source);
    }
  }

  const addenda: Addendum[] = [];
  for (const step of steps) if (step.layer) addenda.push({ layer: await step.layer, history: step.history });
  const config = state.config;
  const image = withConfigFile(appendLayers(base.image, ...addenda), (file) => ({
    ...file,
    created,
    ...(author === undefined ? {} : { author }),
    config: cleanConfig(config),
    history: [...(base.config.history ?? []), ...steps.map((s) => s.history)],
  }));
  return { image, view: base.view, files: base.files };
}

/**
 * The layer of a step: from the step cache when its key is known and the blob is still in the store,
 * otherwise written (and recorded). Misses are explained against the last build of the same step.
 */
async function layerForStep(
  key: string,
  inputs: StepInputs,
  entries: readonly LayerEntry[],
  slot: string,
  ctx: StageContext,
  finished: Finished,
  gzipToo: boolean,
): Promise<Layer> {
  const cached = ctx.noCache ? undefined : await ctx.cache.get(key);
  if (cached && (await ctx.store.has(cached.digest))) {
    finished({ digest: cached.digest, size: cached.size }, { cached: true });
    await ctx.cache.remember(slot, inputs);
    return storedLayer(ctx, cached);
  }
  const miss = ctx.noCache ? '--no-cache' : await ctx.cache.explain(slot, inputs);
  const info = await writeLayer(ctx.store, entries, {
    mtime: ctx.epoch,
    compression: 'none',
    ...(gzipToo ? { alsoGzip: true, gzipLevel: GZIP_LEVEL } : {}),
  });
  if (info.gzip) await rememberCompressed(ctx.store, info.diffId, info.gzip);
  await ctx.views.remember(info.diffId, entries);
  await ctx.cache.put(key, info);
  await ctx.cache.remember(slot, inputs);
  finished({ digest: info.digest, size: info.size }, { cached: false, ...(miss ? { miss } : {}) });
  return storedLayer(ctx, info);
}

/** A step's layer blob in the store (an uncompressed tar, or gzip in records older than that). */
function storedLayer(ctx: StageContext, info: LayerInfo): Layer {
  return layerFromStore(ctx.store, info);
}

/**
 * What a step's entries read, for its cache key: file contents by digest (through the stat cache),
 * and the metadata of every entry. Context files are named by their context path.
 */
async function entryDigests(
  entries: readonly LayerEntry[],
  ctx: StageContext,
): Promise<Record<string, string>> {
  // Every file read from disk is hashed in one call, so the misses of a big COPY use all cores.
  const files: { path: string; stat?: FileIdentity }[] = [];
  for (const entry of entries) {
    if (entry.type !== 'file') continue;
    const content = entry.content;
    if (content.kind === 'path') {
      files.push({
        path: content.path,
        ...(content.seen
          ? {
              stat: {
                size: entry.size,
                mtimeNs: content.seen.mtimeNs,
                ino: content.seen.ino,
                dev: content.seen.dev,
              },
            }
          : {}),
      });
    } else if (content.kind === 'archive') files.push({ path: content.archive });
  }
  const digests = await ctx.fileDigests.digestMany(files);
  let next = 0;
  const out: Record<string, string> = {};
  for (const entry of entries) {
    const meta = `${entry.type}:${entry.mode.toString(8)}:${entry.uid}:${entry.gid}`;
    if (entry.type === 'file') {
      const content = entry.content;
      if (content.kind === 'path') {
        const shown = relative(ctx.contextRoot, content.path);
        const name = shown.startsWith('..') ? content.path : shown;
        out[name] = `${meta}:/${entry.path}:${digests[next++]}`;
      } else if (content.kind === 'archive') {
        const shown = relative(ctx.contextRoot, content.archive);
        out[`${shown}#${content.member}`] = `${meta}:/${entry.path}:${digests[next++]}`;
      } else {
        out[`/${entry.path}`] = `${meta}:${createHash('sha256').update(content.data).digest('hex')}`;
      }
    } else {
      out[`/${entry.path}`] = entry.type === 'dir' ? meta : `${meta}:${entry.linkTarget}`;
    }
  }
  return out;
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

/**
 * WORKDIR creates its directory and missing parents, mode 0755, owned by the stage's USER (a name is
 * resolved in the image's /etc/passwd), as BuildKit does.
 */
async function workdirEntries(
  instruction: WorkdirInstruction,
  config: ContainerConfig,
  base: StageBase,
  lookup: Lookup,
): Promise<LayerEntry[]> {
  const path = resolveWorkdir(config.WorkingDir, expandWord(instruction.path, lookup));
  if (path === '/') return [];
  const owner = config.User ? await resolveChown(config.User, (file) => base.files.read(file)) : undefined;
  // Created through symlinks, inside the image (BuildKit's mkdir resolves with fs.RootPath):
  // WORKDIR /link/sub with /link -> /real makes /real/sub; the config keeps the path as written.
  const resolved = resolveInView(base.view, path);
  if (resolved === '') return [];
  const parts = resolved.split('/');
  const entries: LayerEntry[] = [];
  const existingParents: LayerEntry[] = [];
  for (let i = 1; i <= parts.length; i++) {
    const dir = parts.slice(0, i).join('/');
    const existing = base.view.lookup(dir);
    if (existing?.type === 'dir') {
      // Parents already in the image go into the layer with their own metadata (as BuildKit's differ
      // writes them): a layer that omitted them would show them as root 0755 in an overlay stack.
      existingParents.push({
        type: 'dir',
        path: dir,
        mode: existing.mode,
        uid: existing.uid,
        gid: existing.gid,
      });
      continue;
    }
    if (existing) {
      throw new WharfError(
        'ENGINE_WORKDIR_NOT_DIR',
        `WORKDIR ${path}: /${dir} exists and is not a directory`,
        {
          hint: 'choose another WORKDIR or remove that file in an earlier step',
        },
      );
    }
    entries.push({ type: 'dir', path: dir, mode: 0o755, uid: owner?.uid ?? 0, gid: owner?.gid ?? 0 });
  }
  // Nothing new to create: no layer (BuildKit drops the empty diff).
  return entries.length === 0 ? [] : [...existingParents, ...entries];
}

/** A step's planned entries, what they read (for the cache key), and what to release once written. */
interface PlannedEntries {
  readonly entries: readonly LayerEntry[];
  readonly files: Record<string, string>;
  release(): Promise<void>;
}

async function copyEntries(
  instruction: CopyInstruction | AddInstruction,
  config: ContainerConfig,
  base: StageBase,
  lookup: Lookup,
  ctx: StageContext,
): Promise<PlannedEntries> {
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
  const from = instruction.kind === 'copy' ? instruction.from : undefined;
  const opened = from === undefined ? undefined : await openFrom(from, ctx.resolver, expand);
  try {
    const plan = await planCopy({
      instruction: instruction.kind === 'add' ? 'ADD' : 'COPY',
      sources,
      dest: expand(instruction.dest),
      workdir: config.WorkingDir || '/',
      source: opened ? opened.tree : await ctx.context(),
      view: base.view,
      ...(chown ? { chown } : {}),
      ...(instruction.chmod === undefined ? {} : { chmod: expand(instruction.chmod) }),
      ...(instruction.exclude?.length ? { exclude: instruction.exclude.map(expand) } : {}),
      ...(instruction.kind === 'copy' && instruction.parents ? { parents: true } : {}),
    });
    // From another stage or image, its digest names the content; from a context, the file digests do.
    const files =
      opened && from !== undefined && from.kind !== 'context'
        ? { [`--from=${fromName(from)}`]: opened.identity }
        : await entryDigests(plan.entries, ctx);
    return { entries: plan.entries, files, release: () => opened?.release() ?? Promise.resolve() };
  } catch (error) {
    await opened?.release();
    throw error;
  }
}

/** The content identity of a --from stage or image: its manifest digest. */
async function sourceIdentity(from: FromRef, lookup: Lookup, ctx: StageContext): Promise<string> {
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

/**
 * Runs a RUN step (or takes its layer from the cache): the layer it produced, or undefined when the
 * command changed nothing.
 */
async function runLayer(
  key: string,
  inputs: StepInputs,
  slot: string,
  below: readonly Layer[],
  resolved: ResolvedRun,
  instruction: RunInstruction,
  config: ContainerConfig,
  scope: StageScope,
  stage: Stage,
  ctx: StageContext,
  finished: Finished,
): Promise<Layer | undefined> {
  try {
    const cached = ctx.noCache ? undefined : await ctx.cache.get(key);
    if (cached === null || (cached && (await ctx.store.has(cached.digest)))) {
      await ctx.cache.remember(slot, inputs);
      if (cached === null) {
        finished(undefined, { cached: true });
        return undefined;
      }
      finished({ digest: cached.digest, size: cached.size }, { cached: true });
      return storedLayer(ctx, cached);
    }
    const miss = ctx.noCache ? '--no-cache' : await ctx.cache.explain(slot, inputs);
    const result = await runStep({
      snapshotter: await ctx.resolver.snapshotter(),
      layers: below,
      command: resolved.command,
      // ARG and ENV of one name: the later assignment wins (scope.ts).
      env: scope.runEnv(config.Env ?? []),
      ...(config.User ? { user: config.User } : {}),
      cwd: config.WorkingDir || '/',
      mounts: resolved.mounts,
      network: instruction.network ?? 'default',
      ...(instruction.security ? { security: instruction.security } : {}),
      secrets: ctx.secrets,
      onOutput: (line) => ctx.onEvent({ type: 'log', stage: stage.name, text: line }),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
    try {
      const { prepareMs: prepare, runMs: run, diffMs: diff } = result.timings;
      if (result.entries.length === 0) {
        await ctx.cache.put(key, null);
        await ctx.cache.remember(slot, inputs);
        finished(undefined, { cached: false, ...(miss ? { miss } : {}) }, { prepare, run, diff });
        return undefined;
      }
      const writing = Date.now();
      const info = await writeLayer(ctx.store, result.entries, { mtime: ctx.epoch, compression: 'none' });
      const write = Date.now() - writing;
      await Promise.all([
        result.commitSnapshot(info.diffId),
        ctx.views.remember(info.diffId, result.entries),
      ]);
      await ctx.cache.put(key, info);
      await ctx.cache.remember(slot, inputs);
      const phases = { prepare, run, diff, write };
      finished(
        { digest: info.digest, size: info.size },
        { cached: false, ...(miss ? { miss } : {}) },
        phases,
      );
      return storedLayer(ctx, info);
    } finally {
      await result.release();
    }
  } finally {
    await resolved.release();
  }
}

/** How RUN mounts reach the context, other stages, images and named contexts. */
function runMountContext(ctx: StageContext): RunMountContext {
  return {
    contextDir: ctx.contextRoot,
    contextIdentity: async (path) => treeIdentity(await ctx.context(), path, ctx.fileDigests),
    openFrom: (from) => openFrom(from, ctx.resolver, (word) => word),
  };
}

/** Every instruction kind is handled above; a new IR kind fails to type-check here. */
function unhandled(instruction: never): never {
  throw new Error(`unhandled instruction ${JSON.stringify(instruction)}`);
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
