/**
 * The direct backend: builds a BuildGraph into an Image without a Docker daemon.
 *
 * Stages run in dependency order, independent stages concurrently; only the stages the target needs
 * run. Bases: `scratch`, another stage, an image, or a local OCI image layout: a `--build-context
 * NAME=oci-layout://DIR[:TAG]`, or `oci-layout://DIR` inside the definition's folder or context.
 *
 * Layers are written uncompressed (tar → sha256 → store, digest = diffID), as BuildKit does, so no step
 * waits for gzip. The result's `image` is the distributable form: the same config with gzip layers,
 * compressed on demand and once per layer ever (compress.ts); `uncompressedImage` has the tars, for
 * outputs that want them (docker-archive).
 *
 * @example
 * const { image, digest } = await buildGraph(toGraph(app), { contextDir: process.cwd() });
 */
import { join, resolve } from 'node:path';
import { FileDigests } from '../cache/file-digests.js';
import {
  type CacheSource,
  type CacheSpec,
  cacheRepositories,
  DEFAULT_MOUNT_LIMIT,
  describeCacheSpec,
  exportCache,
  importCache,
  parseCacheSpec,
  type RemoteCacheOptions,
} from '../cache/remote.js';
import type { BaseListing, CacheMountRecord, CacheRecord } from '../cache/remote-format.js';
import { portableInputs, portablePosition } from '../cache/remote-inputs.js';
import type { CachedFormSource } from '../cache/remote-lazy.js';
import { type CachedLayer, type LazyImport, StepCache } from '../cache/step-cache.js';
import { WharfError } from '../errors.js';
import { type BuildEvent, discardEvents, type EventSink } from '../events.js';
import { type CompressionSpec, isDefaultCompression } from '../image/compression.js';
import { emptyImage } from '../image/empty.js';
import { mapLayers } from '../image/mutate.js';
import { layerFromStore } from '../image/partial.js';
import type { Image, Layer } from '../image/types.js';
import { assertEntitled, type Entitlement } from '../ir/entitlements.js';
import { pruneToTarget, resolveStageBases, stageDependencies, targetName } from '../ir/graph.js';
import type { BuildGraph, Instruction, Stage } from '../ir/types.js';
import { assertValidGraph } from '../ir/validate.js';
import { MemoryFsView } from '../layer/fs-view.js';
import { openContextSource, type SourceTree } from '../layer/source.js';
import { sourceDateEpoch } from '../layer/tar-writer.js';
import { readLayout } from '../layout/read.js';
import {
  type Descriptor,
  type Digest,
  formatPlatform,
  hostPlatform,
  normalizePlatform,
  type Platform,
  parsePlatform,
  parseReference,
} from '../oci/index.js';
import type { RegistryOptions } from '../registry/client.js';
import { startPull } from '../registry/pull.js';
import { findRuntime } from '../runtime/detect.js';
import { checkEmulation } from '../runtime/emulation.js';
import type { SecretSource } from '../runtime/mounts.js';
import { defaultCacheRoot, warmUpStepNetwork } from '../runtime/run.js';
import { defaultSnapshotRoot, Snapshotter } from '../runtime/snapshotter.js';
import { type BlobStore, openStore } from '../store/store.js';
import { assertBasePlatform } from './base-platform.js';
import { cachedBase, recordBase } from './base-records.js';
import { packCacheMount } from './cache-mounts.js';
import { checkCompression, compressedLayer, compressionScheme, knownGzipDigest } from './compress.js';
import { keepTar } from './kept-tar.js';
import { LayerViews, type UnpackFor } from './layer-views.js';
import { BuildArgs, GlobalScope, predefinedArgs } from './scope.js';
import {
  type BuildContext,
  definitionLayoutDir,
  findBuildContext,
  LAYOUT_SCHEME,
  type LayoutPick,
  parseBuildContexts,
  parseLayoutSpec,
} from './sources.js';
import { runStage, type StageBase, type StageContext, type StageResult } from './stage.js';
import { StageFiles } from './stage-files.js';
import type { Executed, RecordedStep } from './step-runner.js';

export interface BuildOptions {
  /** The folder the graph's context paths are relative to (the build definition's folder). */
  readonly contextDir: string;
  /** The stage to build; default the graph's target. */
  readonly target?: string;
  /** Target platform; default Linux on this machine's architecture. */
  readonly platform?: Platform;
  /** `--build-arg` values. */
  readonly buildArgs?: Readonly<Record<string, string>>;
  /**
   * `--build-context` values (buildx): `{ base: 'oci-layout:///abs/layout:1.0' }` makes `FROM base` and
   * `COPY --from=base` read that layout; `docker-image://REF` another image; a folder, a local context
   * for `COPY --from=NAME`. Relative paths are relative to the current directory. The only way to
   * read a local layout outside the definition's folder and context.
   */
  readonly buildContexts?: Readonly<Record<string, string>>;
  /** The blob store (default: `openStore()` under the cache dir). */
  readonly store?: BlobStore;
  /** Cache directory for the default store. */
  readonly cacheDir?: string;
  /** Timestamps in the image, seconds since the epoch; default SOURCE_DATE_EPOCH, else 0. */
  readonly epoch?: number;
  /** Rebuild every step (results are still recorded for later builds). */
  readonly noCache?: boolean;
  /**
   * `--cache-from`: caches to import (`type=registry,ref=REF`, `type=local,src=DIR`, or parsed), tried
   * in order for keys the local cache lacks. Their records are read first; a layer is downloaded only
   * when a step hits it. A cache that cannot be read is a warning, never a failure.
   */
  readonly cacheFrom?: readonly (CacheSpec | string)[];
  /**
   * `--cache-to`: where to export this build's step records and layers when it succeeds
   * (`type=registry,ref=REF[,mode=min|max]`, `type=local,dest=DIR`); `mode=min` (default) the
   * target's steps, `max` every stage's. A failed export is a warning.
   */
  readonly cacheTo?: readonly (CacheSpec | string)[];
  /**
   * Ask the registry what each base image tag names now, as `docker build --pull`. Default: a base
   * pulled before (its record and every blob still in the store) is used as it was, without the network.
   */
  readonly pull?: boolean;
  /** `--secret id=…` values for `RUN --mount=type=secret`. */
  readonly secrets?: Readonly<Record<string, SecretSource>>;
  /** Entitlements granted (`--allow`): `RUN --network=host` and `--security=insecure` need them. */
  readonly allow?: readonly Entitlement[];
  /** Registry settings for pulling base images (mirrors, insecure hosts, CA, credentials). */
  readonly registry?: RegistryOptions;
  /**
   * gzip the target image's new layers during the build rather than when the image's digest or blobs
   * are first asked for: COPY/ADD layers in the same pass that writes their tar (the step ends when
   * both are stored), RUN layers in the background as soon as they are written (the next RUN needs
   * the snapshot, not the gzip). Worth it when the caller will ask (the digest, a push, an oci
   * output); `buildGraph` always does.
   */
  readonly compressEarly?: boolean;
  /**
   * Whether a lazy cache hit of the target is fetched as soon as it hits (default true: an output
   * reads it next). False when the only output is a push the imported cache's registry can serve by
   * cross-repository mount: then the bytes are fetched only if the mount is refused.
   */
  readonly fetchHitsEarly?: boolean;
  /**
   * How new layers are compressed in `image`: gzip level 6 (the default, readable everywhere) or
   * `{ format: 'zstd', level: 3 }` (`application/vnd.oci.image.layer.v1.tar+zstd`, written by the
   * system `zstd` program). Base layers are distributed as they came.
   */
  readonly compression?: CompressionSpec;
  /** Stops the build (Ctrl-C): running steps are killed, nothing is written. */
  readonly signal?: AbortSignal;
  readonly onEvent?: EventSink;
}

export interface BuiltImage {
  /** The image to distribute (push, oci, oci-archive): gzip (or `compression`) layers, compressed lazily when read. */
  readonly image: Image;
  /** The same image with the layers as built (uncompressed tars): for docker-archive and the like. */
  readonly uncompressedImage: Image;
  /** The stage that was built. */
  readonly target: string;
  /** Every FROM image the build resolved, as written and by manifest digest (for SBOMs and provenance). */
  readonly bases?: readonly { readonly reference: string; readonly digest: Digest }[];
}

export interface BuildResult extends BuiltImage {
  /** The digest of `image` (gzip layers): what a push or an oci output contains. */
  readonly digest: Digest;
}

/** Builds `graph`; the digest is computed (compressing new layers, once per layer ever). */
export async function buildGraph(graph: BuildGraph, options: BuildOptions): Promise<BuildResult> {
  const built = await buildImage(graph, { compressEarly: true, ...options });
  return { ...built, digest: await built.image.digest() };
}

/**
 * Builds `graph` without compressing anything: `image` compresses its new layers when something reads
 * its manifest, digest or layer blobs, so callers can do that concurrently with other work.
 */
export async function buildImage(graph: BuildGraph, options: BuildOptions): Promise<BuiltImage> {
  const { platform, ...rest } = options;
  const [built] = await buildPlatforms(graph, { ...rest, ...(platform ? { platforms: [platform] } : {}) });
  return built as BuiltPlatform;
}

export interface PlatformsOptions extends Omit<BuildOptions, 'platform'> {
  /** The target platforms, built concurrently; default Linux on this machine's architecture. */
  readonly platforms?: readonly Platform[];
}

/** One platform's image from {@link buildPlatforms}. */
export interface BuiltPlatform extends BuiltImage {
  /** The target platform this image is for. */
  readonly platform: Platform;
}

/**
 * Builds `graph` for every platform in one run, concurrently, sharing what BuildKit shares: a stage
 * whose `FROM --platform` names a fixed platform (`$BUILDPLATFORM`: a native stage) and that reads no
 * TARGET* argument, nor depends on a stage that does, is built once and used by every target platform
 * (cross-compilation without emulation). Other stages are built per platform; `FROM base-${TARGETARCH}`
 * names each platform's own stage. A COPY/ADD/WORKDIR layer that comes out the same in several
 * platforms' stages is written once (steps/entries.ts). The images come back
 * in the order of `platforms`; nothing is compressed yet (see {@link buildImage}).
 *
 * @example
 * const [amd64, arm64] = await buildPlatforms(graph, {
 *   contextDir: process.cwd(),
 *   platforms: [parsePlatform('linux/amd64'), parsePlatform('linux/arm64')],
 * });
 */
export async function buildPlatforms(
  graph: BuildGraph,
  options: PlatformsOptions,
): Promise<readonly BuiltPlatform[]> {
  // --cache-from is fully lazy: a hit downloads nothing until its bytes are read. A layer that cannot
  // be fetched then (a RUN's snapshot, a COPY --from, the target's layers gone from the cache) fails
  // this attempt; the build starts over once, with those layers unusable (their steps run; steps that
  // ran are local hits now) and every other hit fetched as it is used, as a non-lazy import does.
  const failed = new Set<string>();
  try {
    return await buildPlatformsOnce(graph, options, { lazy: true, unusable: new Set(), failed });
  } catch (error) {
    if (failed.size === 0 || options.signal?.aborted) throw error;
    (options.onEvent ?? discardEvents)({
      type: 'warning',
      message: `${failed.size} cached layer${failed.size > 1 ? 's' : ''} could not be fetched when needed (${[...failed].join(', ')}); the build starts over and runs ${failed.size > 1 ? 'their steps' : 'its step'}`,
      hint: 'the result is unaffected; check the --cache-from ref and the registry',
    });
    return buildPlatformsOnce(graph, options, { lazy: false, unusable: failed, failed: new Set() });
  }
}

async function buildPlatformsOnce(
  graph: BuildGraph,
  options: PlatformsOptions,
  lazy: LazyImport,
): Promise<readonly BuiltPlatform[]> {
  const onEvent = options.onEvent ?? discardEvents;
  await checkCompression(options.compression); // a bad level or a missing zstd fails before any work
  const cacheFrom = (options.cacheFrom ?? []).map((c) =>
    typeof c === 'string' ? parseCacheSpec(c, 'from') : c,
  );
  const cacheTo = (options.cacheTo ?? []).map((c) => (typeof c === 'string' ? parseCacheSpec(c, 'to') : c));
  for (const warning of assertValidGraph(graph)) {
    onEvent({ type: 'warning', message: warning.message, ...(warning.hint ? { hint: warning.hint } : {}) });
  }
  const target = options.target ?? targetName(graph);
  const buildPlatform = normalizePlatform({ ...hostPlatform(), os: 'linux' });
  const targets = distinctPlatforms(options.platforms ?? [buildPlatform]);
  const several = targets.length > 1;
  const buildArgs = new BuildArgs(options.buildArgs ?? {});
  // Per target platform: its graph — `FROM base-${TARGETARCH}` names a stage once the platform is known,
  // as in BuildKit, so each platform may use other stages — its scope (TARGET* values) and each stage's
  // platform: FROM --platform (`$BUILDPLATFORM` makes a native stage, as BuildKit), else the target.
  // Parsed here, so a bad one fails before any work.
  const plans = targets.map((platform) => {
    const predefined = predefinedArgs(platform, buildPlatform);
    const scope = new GlobalScope(graph.args, buildArgs, predefined);
    const planned = pruneToTarget(resolveStageBases(graph, [(word: string) => scope.expand(word)]), target);
    assertEntitled(planned, options.allow);
    const global = new GlobalScope(planned.args, buildArgs, predefined);
    const platforms = new Map(
      planned.stages.map((s) => [
        s.name,
        s.platform === undefined ? platform : parsePlatform(global.expand(s.platform)),
      ]),
    );
    const stage = (name: string) => planned.stages.find((s) => s.name === name);
    return {
      platform,
      global,
      graph: planned,
      stage,
      stagePlatform: (s: Stage) => platforms.get(s.name) ?? platform,
    };
  });
  const pruned = (plans[0] as (typeof plans)[number]).graph; // context, args, named contexts: the same in every plan
  const targetSensitive = new Set(plans.flatMap((plan) => [...targetSensitiveStages(plan.graph, graph)]));
  /** Which built stage a (target platform, stage) uses: shared ones have one key for all targets. */
  const stageKey = (plan: (typeof plans)[number], stage: Stage): string => {
    const own = formatPlatform(plan.stagePlatform(stage));
    const shared = stage.platform !== undefined && !targetSensitive.has(stage.name);
    return shared ? `${own}\0${stage.name}` : `${own}\0${stage.name}\0${formatPlatform(plan.platform)}`;
  };
  /** What events call the stage: its name, prefixed with its platform when several are built (BuildKit's habit). */
  const stageLabel = (plan: (typeof plans)[number], stage: Stage): string => {
    if (!several) return stage.name;
    const shared = stage.platform !== undefined && !targetSensitive.has(stage.name);
    return `${formatPlatform(shared ? plan.stagePlatform(stage) : plan.platform)} ${stage.name}`;
  };
  const store = options.store ?? (await openStore(options.cacheDir ? { root: options.cacheDir } : {}));
  const contextDir = resolve(options.contextDir, pruned.context.dir);
  const buildContexts = parseBuildContexts(options.buildContexts ?? {});
  let contextSource: Promise<SourceTree> | undefined;
  const views = new LayerViews(join(store.root, 'views'), (diffId) => knownGzipDigest(store, diffId));
  // The gzip (or `compression`) form of each built layer, made once: early (in the background) or when first asked for.
  const gzipped = new Map<Layer, Layer>();
  const gzip = (layer: Layer): Layer => {
    let compressed = gzipped.get(layer);
    if (!compressed) {
      compressed = compressedLayer(store, layer, options.compression);
      gzipped.set(layer, compressed);
    }
    return compressed;
  };
  // The stages whose layers end up in the target image: the target and the stages it is FROM.
  const inTarget = new Set<string>();
  /** The compression scheme of the target's layers in an output (what a lazy hit's prefetch brings). */
  let outputScheme: Promise<string> | undefined;
  for (const plan of plans) {
    const chain = new Set<string>();
    for (let name: string | undefined = target; name !== undefined && !chain.has(name); ) {
      chain.add(name);
      inTarget.add(name);
      const base: Stage['base'] | undefined = plan.stage(name)?.base;
      name = base?.kind === 'stage' ? base.stage : undefined;
    }
  }
  const results = new Map<string, Promise<StageResult>>();
  const fileDigestsFile = join(store.root, 'file-digests.json');
  const fileDigests = await FileDigests.open(fileDigestsFile);
  const cache = new StepCache(store.root);
  const registry = options.registry ? { registry: options.registry } : {};
  /** Every step's key and result in this build, with its stage (what `--cache-to` exports). */
  const stepRecords = new Map<
    string,
    { readonly layer: CachedLayer | null; readonly stage: string; readonly step: RecordedStep }
  >();
  let snapshotter: Promise<Snapshotter> | undefined;
  const openSnapshotter = (): Promise<Snapshotter> => {
    snapshotter ??= Snapshotter.open({ root: defaultSnapshotRoot(store.root) });
    return snapshotter;
  };
  const images = new Map<string, Promise<Image>>();
  const basePulls: Promise<unknown>[] = [];
  /** Each stage's base image (FROM an image): `--cache-to` sends their layers' listings. */
  const stageBases: { readonly stage: string; readonly image: Image }[] = [];
  // COPY/ADD/WORKDIR layers by their bytes' inputs: each platform's stage makes the same COPY, written once
  const layerWrites = new Map<string, Promise<Executed>>();
  const baseOptions = (plan: (typeof plans)[number], platform: Platform): BaseOptions => ({
    platform,
    global: plan.global,
    layoutRoots: [resolve(options.contextDir), contextDir],
    buildContexts,
    store,
    views,
    images,
    imported: importing,
    pulls: basePulls,
    pull: options.pull ?? false,
    ...(options.registry ? { registry: options.registry } : {}),
    // A base read for its view is extracted for RUN in the same pass, unless an imported cache may
    // answer the RUN steps (then nothing is extracted before a step misses).
    ...(cacheFrom.length === 0 || options.noCache
      ? {
          unpack: async (diffId: Digest) => {
            const snapshots = await openSnapshotter();
            const unpack = snapshots.unpacker(diffId);
            // a cold base: the first RUN will need a network too, made meanwhile
            if (unpack) warmUpStepNetwork(snapshots);
            return unpack;
          },
        }
      : {}),
  });
  /** The context a stage runs in, for one target platform. */
  const stageContext = (plan: (typeof plans)[number], stage: Stage): StageContext => {
    const label = stageLabel(plan, stage);
    return {
      store,
      global: plan.global,
      context: () => {
        contextSource ??= openContextSource(
          contextDir,
          pruned.context.ignore ? { ignore: pruned.context.ignore } : {},
        );
        return contextSource;
      },
      stageNames: graph.stages.map((s) => s.name),
      epoch: options.epoch ?? sourceDateEpoch(),
      onEvent: label === stage.name ? onEvent : (event) => onEvent(relabel(event, stage.name, label)),
      cache,
      // only for --cache-to, which exports every step's inputs (a step replayed without them cannot be)
      ...(cacheTo.length > 0
        ? {
            onStepRecord: (key: string, layer: CachedLayer | null, step: RecordedStep) =>
              stepRecords.set(key, { layer, stage: stage.name, step }),
          }
        : {}),
      fileDigests,
      noCache: options.noCache ?? false,
      contextRoot: contextDir,
      // each platform's step positions are their own (a miss is explained against the same platform)
      slotPrefix: `${contextDir}\0${plan.graph.stages.map((s) => s.name).join(',')}${several ? `\0${label}` : ''}`,
      resolver: {
        stageImage: async (name: string) => {
          const dep = plan.stage(name);
          const result = dep && results.get(stageKey(plan, dep));
          // only a base image's ONBUILD trigger can name a stage the graph did not schedule
          if (result === undefined) {
            throw new WharfError('ENGINE_STAGE_NOT_BUILT', `stage "${name}" is not part of this build`, {
              hint: `an ONBUILD trigger of a base image names it: make the target use stage "${name}", or rename it`,
            });
          }
          return (await result).image;
        },
        // COPY --from=IMAGE and RUN --mount from=IMAGE: the image for the target platform, as before
        image: (ref: string) => imageBase(ref, baseOptions(plan, plan.platform)),
        buildContextDir: (ref: string) => {
          const found = findBuildContext(buildContexts, ref);
          return found?.kind === 'dir' ? found.dir : undefined;
        },
        namedContext: (name: string) => {
          const spec = pruned.namedContexts[name];
          const flag = findBuildContext(buildContexts, name);
          if (!spec) return flag?.kind === 'dir' ? { dir: flag.dir } : undefined;
          return {
            dir: resolve(options.contextDir, spec.dir),
            ...(spec.ignore ? { ignore: spec.ignore } : {}),
          };
        },
        snapshotter: openSnapshotter,
      },
      secrets: options.secrets ?? {},
      views,
      layerWrites,
      ...(options.compressEarly
        ? {
            onLayer: (layer: Layer, name: string) => {
              if (!inTarget.has(name)) return;
              gzip(layer)
                .digest()
                .catch(() => {}); // errors surface when asked again
              // A lazy hit's bytes, which the output reads next: fetched now, beside the other steps
              // and the base's layers, through the imported cache's own connections.
              const lazy =
                options.fetchHitsEarly === false ? undefined : (layer as CachedFormSource).prefetch;
              outputScheme ??= compressionScheme(options.compression);
              if (lazy) outputScheme.then((scheme) => lazy(scheme)).catch(() => {}); // as a read would fail
            },
            gzipWhileWriting: (name: string) =>
              inTarget.has(name) && isDefaultCompression(options.compression),
          }
        : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    };
  };

  const runs = plans.map((plan) =>
    plan.graph.stages.filter((s) => s.instructions.some((i) => i.kind === 'run')),
  );
  // Imported caches hold connections until every stage has settled (a hit fetches its layer then).
  // Read while the runtime is checked and the bases' manifests are fetched: none waits for another.
  const importing = options.noCache
    ? Promise.resolve([])
    : importCaches(cacheFrom, store, options.registry, onEvent);
  if (runs.some((stages) => stages.length > 0)) {
    try {
      // Fail before running anything when RUN cannot run here (no runtime, or no emulator for a platform).
      await findRuntime();
      const checked = new Set<string>();
      for (const [i, plan] of plans.entries()) {
        for (const stage of runs[i] ?? []) {
          const platform = plan.stagePlatform(stage);
          if (checked.has(formatPlatform(platform))) continue;
          checked.add(formatPlatform(platform));
          await checkEmulation(platform);
        }
      }
    } catch (error) {
      await Promise.all((await importing).map((s) => s.close().catch(() => {})));
      throw error;
    }
  }
  const attached = importing.then((sources) => {
    cache.attach(
      sources,
      (message, hint) => onEvent({ type: 'warning', message, ...(hint ? { hint } : {}) }),
      lazy,
    );
  });
  for (const plan of plans) {
    for (const stage of plan.graph.stages) {
      const key = stageKey(plan, stage);
      if (results.has(key)) continue; // a shared stage another platform scheduled
      const deps = stageDependencies(stage);
      results.set(
        key,
        (async () => {
          const done = new Map<string, StageResult>();
          for (const dep of deps) {
            const depStage = plan.stage(dep) as Stage;
            done.set(dep, await (results.get(stageKey(plan, depStage)) as Promise<StageResult>));
          }
          const [base] = await Promise.all([
            resolveBase(stage, done, baseOptions(plan, plan.stagePlatform(stage))),
            attached,
          ]);
          if (stage.base.kind === 'image') stageBases.push({ stage: stage.name, image: base.image });
          return runStage(stage, base, stageContext(plan, stage));
        })(),
      );
    }
  }
  // Settle every stage so a failing one does not leave others running unobserved.
  const settled = await Promise.allSettled(results.values());
  // The target's lazy layers are what outputs read after the build: a cache that no longer holds one
  // is found now (a HEAD, no download) and the build starts over, rather than an output failing later.
  const held = settled.every((s) => s.status === 'fulfilled')
    ? await checkTargetLayersHeld(
        cache,
        store,
        plans.map((plan) => results.get(stageKey(plan, plan.stage(target) as Stage)) as Promise<StageResult>),
      ).then(
        () => undefined,
        (error: unknown) => error,
      )
    : undefined;
  // Fetches under way finish before the sources close (a lazy layer an output reads later
  // reconnects on its own); one that failed fails this attempt, as a read that needed it would.
  await cache.settle();
  await Promise.all((await importing).map((s) => s.close().catch(() => {})));
  // Base layers still downloading (nothing read them yet): an output reads them next, and a layer
  // whose download failed fails that read; nothing is left writing into the store after the build.
  await Promise.allSettled(basePulls);
  // RUN steps are over: a rootless snapshotter's user namespace can go (the layers' files stay).
  // This close and the stat cache's save below are tidying: neither may fail a build or hide why it
  // failed, so each is a warning.
  await (await snapshotter?.catch(() => undefined))?.close().catch((error: unknown) =>
    onEvent({
      type: 'warning',
      message: `could not close the RUN snapshotter cleanly: ${(error as Error).message}`,
      hint: 'nothing of the build is lost: a lease left behind counts as stale once this process exits',
    }),
  );
  // A stat cache: failing to save it costs the next build some hashing.
  await fileDigests.save().catch((error: unknown) =>
    onEvent({
      type: 'warning',
      message: `could not save the file digest cache ${fileDigestsFile}: ${(error as Error).message}`,
      hint: 'check the cache directory (space, permissions); the next build hashes the files again',
    }),
  );
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failure) throw failure.reason;
  if (held) throw held;
  if (lazy.failed.size > 0)
    throw new WharfError('CACHE_LAYER_UNAVAILABLE', 'a cached layer could not be fetched when needed');
  for (const spec of cacheTo) {
    const mode = spec.mode ?? 'min';
    const records: CacheRecord[] = [...stepRecords]
      .filter(([, r]) => mode === 'max' || inTarget.has(r.stage))
      .map(([key, r]): CacheRecord => {
        const inputs = portableInputs(r.step.inputs);
        return { key, layer: r.layer, ...(inputs ? { at: portablePosition(r.step.slot), inputs } : {}) };
      });
    const used = [...cache.mountsUsed].filter(
      ([, stages]) => mode === 'max' || [...stages].some((s) => inTarget.has(s)),
    );
    const chosen = spec.mounts;
    if (Array.isArray(chosen)) {
      const ids = new Set(used.map(([id]) => id));
      for (const id of chosen.filter((id) => !ids.has(id))) {
        onEvent({
          type: 'warning',
          message: `cache export to ${describeCacheSpec(spec)}: mounts=${id} names no cache mount the exported steps use`,
          hint: `the ids used are: ${[...ids].join(', ') || 'none'} (a mount's id is its id=, else its target path)`,
        });
      }
    }
    const mounts = chosen
      ? await exportedMounts(
          cache,
          store,
          chosen === true ? used : used.filter(([id]) => chosen.includes(id)),
          spec.mountLimit ?? DEFAULT_MOUNT_LIMIT,
          onEvent,
        )
      : [];
    await exportCacheQuietly(
      spec,
      records,
      {
        store,
        mountFrom: mountSources(spec, cacheFrom),
        ...registry,
        listings: await exportListings(views, records),
        bases: await exportBaseListings(
          views,
          stageBases.filter((b) => mode === 'max' || inTarget.has(b.stage)).map((b) => b.image),
        ),
        // a lazy hit's blob is fetched only when the destination lacks it
        ensure: async (descriptor) => {
          if (!(await cache.ensure(descriptor.digest, store)))
            throw new WharfError('CACHE_LAYER_UNAVAILABLE', `blob ${descriptor.digest} could not be fetched`);
        },
      },
      onEvent,
      mounts,
      cache,
    );
  }
  for (const name of buildArgs.unused()) {
    onEvent({
      type: 'warning',
      message: `build-arg "${name}" was not consumed by any ARG`,
      hint: `declare it with ARG ${name}`,
    });
  }
  const bases = await Promise.all(
    // keyed `<platform> <reference>` (imageBase): a platform has no space, so the rest is the reference
    [...images].map(async ([key, base]) => ({
      reference: key.slice(key.indexOf(' ') + 1),
      digest: await (await base).digest(),
    })),
  );
  return Promise.all(
    plans.map(async (plan) => {
      const targetStage = plan.stage(target) as Stage;
      const uncompressedImage = (await (results.get(stageKey(plan, targetStage)) as Promise<StageResult>))
        .image;
      // Every uncompressed tar layer gets its gzip form (compressedLayer leaves compressed ones alone): by
      // media type, not by identity — a cached step's layer or one re-typed for a Docker base is a new object.
      const image = mapLayers(uncompressedImage, (layer) => gzip(layer));
      return { image, uncompressedImage, target, bases, platform: plan.platform };
    }),
  );
}

/** Imports each cache (concurrently; kept in the given order); one that cannot be read is a warning. */
async function importCaches(
  specs: readonly CacheSpec[],
  store: BlobStore,
  registry: RegistryOptions | undefined,
  onEvent: EventSink,
): Promise<CacheSource[]> {
  const settled = await Promise.allSettled(
    specs.map((spec) => importCache(spec, { store, ...(registry ? { registry } : {}) })),
  );
  const sources: CacheSource[] = [];
  settled.forEach((result, i) => {
    if (result.status === 'fulfilled') {
      sources.push(result.value);
      onEvent({
        type: 'log',
        text: `cache import from ${result.value.name}: ${result.value.records.size} step records`,
      });
    } else {
      onEvent({
        type: 'warning',
        message: `cache import from ${describeCacheSpec(specs[i] as CacheSpec)} failed: ${reason(result.reason)}`,
        hint: 'the build goes on without it; check the ref, credentials and registry',
      });
    }
  });
  return sources;
}

/**
 * The cache mounts to export (`mounts=true`): each used id's content packed from this machine, or,
 * when this machine never filled it (every step using it was a hit), the imported cache's layer
 * carried on. A mount that cannot be packed is a warning and stays out.
 */
async function exportedMounts(
  cache: StepCache,
  store: BlobStore,
  used: readonly (readonly [string, ReadonlySet<string>])[],
  limit: number,
  onEvent: EventSink,
): Promise<CacheMountRecord[]> {
  const cacheRoot = defaultCacheRoot(defaultSnapshotRoot(store.root));
  const out: CacheMountRecord[] = [];
  for (const [id] of used) {
    try {
      const packed = await packCacheMount(store, cacheRoot, id, limit);
      if (packed?.dropped) {
        onEvent({
          type: 'log',
          text: `cache mount "${id}": ${packed.dropped} least recently used files left out (mount-limit)`,
        });
      }
      const layer = packed?.layer ?? (await cache.importedMount(id, store));
      if (layer) out.push({ id, layer });
    } catch (error) {
      onEvent({
        type: 'warning',
        message: `cache mount "${id}" was not exported: ${reason(error)}`,
        hint: 'the step records are exported without it',
      });
    }
  }
  return out;
}

/** `compression=…`: each tar layer's compressed form, made (once, kept in the store) as for an image output. */
async function compressedForms(
  store: BlobStore,
  layers: readonly (CachedLayer | null)[],
  compression: CompressionSpec,
  cache: StepCache,
): Promise<Map<string, Descriptor & { scheme: string }>> {
  const forms = new Map<string, Descriptor & { scheme: string }>();
  const scheme = await compressionScheme(compression);
  for (const layer of layers) {
    if (!layer || layer.digest !== layer.diffId || forms.has(layer.digest)) continue;
    // a lazy hit's layer: the form its cache sent is reused without a download when the scheme matches
    const tar = cache.lazyLayer(layer.digest) ?? layerFromStore(store, layer);
    const compressed = compressedLayer(store, tar, compression);
    forms.set(layer.digest, {
      mediaType: await compressed.mediaType(),
      digest: await compressed.digest(),
      size: await compressed.size(),
      scheme,
    });
  }
  return forms;
}

/** Each exported step layer's listing, from the views this build knows (no tar is read for it). */
async function exportListings(
  views: LayerViews,
  records: readonly CacheRecord[],
): Promise<(digest: string) => readonly unknown[] | undefined> {
  const listings = new Map<string, readonly unknown[]>();
  for (const record of records) {
    const layer = record.layer;
    if (!layer || listings.has(layer.digest)) continue;
    const known = await views.known(layer.diffId);
    if (known) listings.set(layer.digest, known);
  }
  return (digest) => listings.get(digest);
}

/**
 * The listings of the layers of `bases` this build knows (it read them, or adopted an imported
 * cache's), by diffID and blob digest: a fresh machine importing the cache plans on the base without
 * unpacking it. A layer not known is left out.
 */
async function exportBaseListings(views: LayerViews, bases: readonly Image[]): Promise<BaseListing[]> {
  const layers = (await Promise.all(bases.map((image) => image.layers()))).flat();
  const out = new Map<string, BaseListing>();
  for (const layer of layers) {
    const [diffId, digest] = await Promise.all([layer.diffId(), layer.digest()]);
    const key = `${diffId} ${digest}`;
    if (out.has(key)) continue;
    const records = await views.known(diffId, digest);
    if (records) out.set(key, { diffId, digest, records });
  }
  return [...out.values()];
}

/**
 * Takes the listings an imported cache has for `layers` (a base image's), each checked as a lazy
 * hit's is, so the base's view needs no unpacking; a layer without one is read as before. The first
 * cache (in `--cache-from` order) with a layer's listing gives it.
 */
function adoptBaseListings(
  views: LayerViews,
  sources: readonly CacheSource[],
  layers: readonly { readonly diffId: Digest; readonly digest: Digest }[],
): void {
  for (const { diffId, digest } of layers) {
    if (diffId === digest) continue; // a tar layer's view is read from the tar (no unpacking to save)
    for (const source of sources) {
      const listing = source.baseListing(diffId, digest);
      if (listing && views.adopt(diffId, listing, digest)) break;
    }
  }
}

/**
 * Fails the attempt (the build starts over, see {@link buildPlatforms}) when an imported cache no
 * longer holds a layer of the target image that was taken lazily.
 */
async function checkTargetLayersHeld(
  cache: StepCache,
  store: BlobStore,
  targets: readonly Promise<StageResult>[],
): Promise<void> {
  const layers = (await Promise.all(targets.map(async (t) => (await t).image.layers()))).flat();
  const digests = new Set(await Promise.all(layers.map((l) => l.digest())));
  const gone = await Promise.all(
    [...digests].map(async (d) => ((await cache.stillHeld(d, store)) ? undefined : d)),
  );
  if (gone.some((d) => d !== undefined))
    throw new WharfError('CACHE_LAYER_UNAVAILABLE', 'an imported cache no longer holds a layer of the image');
}

/** Exports one cache; a failure is a warning naming the ref and the reason. */
async function exportCacheQuietly(
  spec: CacheSpec,
  records: readonly CacheRecord[],
  options: RemoteCacheOptions,
  onEvent: EventSink,
  mounts: readonly CacheMountRecord[],
  cache: StepCache,
): Promise<void> {
  const name = describeCacheSpec(spec);
  try {
    const compressed = spec.compression
      ? await compressedForms(
          options.store,
          [...records.map((r) => r.layer), ...mounts.map((m) => m.layer)],
          spec.compression,
          cache,
        )
      : undefined;
    const done = await exportCache(spec, records, options, mounts, compressed);
    onEvent({
      type: 'log',
      text: `cache exported to ${name}: ${done.records} step records, ${done.layers} layers${done.mounts ? ` (${done.mounts} cache mounts)` : ''}${
        done.pushed
          ? ` (blobs: ${done.pushed.uploaded} uploaded, ${done.pushed.existing} already there, ${done.pushed.mounted} mounted)`
          : ''
      } ${done.digest}`,
    });
  } catch (error) {
    onEvent({
      type: 'warning',
      message: `cache export to ${name} failed: ${reason(error)}`,
      hint: 'the image is unaffected; check the ref, credentials and registry',
    });
  }
}

/**
 * Repositories of `reference`'s registry that hold an imported cache (`--cache-from`): a push there
 * mounts the cached layers from them instead of downloading and uploading them again.
 *
 * @example
 * pushMountSources(['registry.lan/app/cache:main'], 'registry.lan/app:1'); // ['app/cache']
 */
export function pushMountSources(cacheFrom: readonly (CacheSpec | string)[], reference: string): string[] {
  if (!reference || cacheFrom.length === 0) return [];
  let registry: string;
  try {
    registry = parseReference(reference).registry;
  } catch {
    return []; // the push itself names the bad reference
  }
  return cacheRepositories(cacheFrom, registry);
}

/** The repositories of the imported registry caches on `spec`'s registry: layers can be mounted from them. */
function mountSources(spec: CacheSpec, imported: readonly CacheSpec[]): string[] {
  if (spec.type !== 'registry') return [];
  const own = parseReference(spec.ref).repository;
  return pushMountSources(imported, spec.ref).filter((r) => r !== own);
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The platforms, normalized, each once (`--platform` given twice keeps one), in order. */
function distinctPlatforms(platforms: readonly Platform[]): Platform[] {
  const seen = new Map<string, Platform>();
  for (const platform of platforms) {
    const normalized = normalizePlatform(platform);
    const key = formatPlatform(normalized);
    if (!seen.has(key)) seen.set(key, normalized);
  }
  return [...seen.values()];
}

const TARGET_ARG = /TARGET(?:PLATFORM|OS|ARCH|VARIANT)/;

/**
 * The stages whose result can differ between target platforms although their own platform is fixed:
 * they mention a TARGET* argument (an `ARG TARGETARCH`, a base `$TARGETARCH`), declare an ARG while a
 * global ARG's default mentions one, read an image (`COPY --from=IMAGE`, a mount from one: resolved
 * for the target platform), or use such a stage — `unresolved` is the graph before each platform's
 * `FROM base-${TARGETARCH}` became a stage name. Conservative: a stage that is not listed is the same
 * for every target and is built once.
 */
function targetSensitiveStages(graph: BuildGraph, unresolved: BuildGraph): Set<string> {
  const globalMentions = TARGET_ARG.test(JSON.stringify(graph.args));
  // a base resolved for the platform (`FROM base-${TARGETARCH}` → stage base-arm64) still mentions it
  const mentions = (stage: Stage) =>
    TARGET_ARG.test(JSON.stringify(stage)) ||
    TARGET_ARG.test(JSON.stringify(unresolved.stages.find((s) => s.name === stage.name)?.base ?? null));
  const readsImage = (instruction: Instruction): boolean =>
    (instruction.kind === 'copy' && instruction.from?.kind === 'image') ||
    (instruction.kind === 'run' &&
      (instruction.mounts ?? []).some((m) => 'from' in m && m.from?.kind === 'image')) ||
    (instruction.kind === 'onbuild' && readsImage(instruction.instruction));
  const direct = (stage: Stage) =>
    mentions(stage) ||
    stage.instructions.some(readsImage) ||
    (globalMentions && stage.instructions.some((i) => i.kind === 'arg'));
  const sensitive = new Set<string>();
  // graph order puts dependencies first (pruneToTarget), so one pass sees each dependency decided
  for (const stage of graph.stages) {
    if (direct(stage) || stageDependencies(stage).some((d) => sensitive.has(d))) sensitive.add(stage.name);
  }
  return sensitive;
}

/** A stage's event with its stage name replaced by `label` (`linux/arm64 app`). */
function relabel(event: BuildEvent, name: string, label: string): BuildEvent {
  return 'stage' in event && event.stage === name ? ({ ...event, stage: label } as BuildEvent) : event;
}

interface BaseOptions {
  readonly platform: Platform;
  readonly global: GlobalScope;
  /** Where a definition's own `oci-layout://` paths may point: its folder (first), the context. */
  readonly layoutRoots: readonly string[];
  readonly buildContexts: ReadonlyMap<string, BuildContext>;
  readonly store: BlobStore;
  readonly registry?: RegistryOptions;
  readonly views: LayerViews;
  /** Images resolved in this build, by platform and reference: stages FROM the same image resolve it once. */
  readonly images: Map<string, Promise<Image>>;
  /** The imported caches (`--cache-from`): their base listings spare unpacking a base. */
  readonly imported: Promise<readonly CacheSource[]>;
  /** Base layers downloading in the background: the build ends once they are all in (or failed). */
  readonly pulls: Promise<unknown>[];
  /** Resolve tags in the registry even when a pull of the same tag is recorded. */
  readonly pull: boolean;
  /** Extracts a base layer for RUN steps while it is read for its view (stages with a RUN). */
  readonly unpack?: UnpackFor;
}

async function resolveBase(
  stage: Stage,
  done: ReadonlyMap<string, StageResult>,
  options: BaseOptions,
): Promise<StageBase> {
  switch (stage.base.kind) {
    case 'scratch': {
      const image = emptyImage(options.platform);
      return {
        image,
        config: await image.config(),
        view: new MemoryFsView(),
        files: new StageFiles(async () => []),
        description: 'scratch',
        key: `scratch:${formatPlatform(options.platform)}`,
      };
    }
    case 'stage': {
      const from = done.get(stage.base.stage) as StageResult;
      const image = from.image;
      return {
        image,
        config: await image.config(),
        view: from.view.clone(),
        files: new StageFiles(() => image.layers(), options.views),
        description: `stage ${stage.base.stage}`,
        key: await image.digest(),
      };
    }
    case 'image': {
      const ref = options.global.expand(stage.base.ref);
      const image = await imageBase(ref, options);
      const layers = await image.layers();
      const ids = await Promise.all(
        layers.map(async (layer) => ({ diffId: await layer.diffId(), digest: await layer.digest() })),
      );
      adoptBaseListings(options.views, await options.imported, ids);
      const runs = stage.instructions.some((i) => i.kind === 'run');
      const view = await options.views.viewOf(layers, ref, runs ? options.unpack : undefined);
      return {
        image,
        config: await image.config(),
        view,
        files: new StageFiles(async () => layers, options.views),
        description: ref,
        key: await image.digest(),
      };
    }
  }
}

/**
 * A base image: a `--build-context` of that name, a local OCI layout inside the definition's folder or
 * context (`oci-layout://DIR[:TAG|@DIGEST]`), else as pulled before (engine/base-records.ts; unless
 * `pull`), else pulled from its registry.
 */
function imageBase(ref: string, options: BaseOptions): Promise<Image> {
  const key = `${formatPlatform(options.platform)} ${ref}`;
  let image = options.images.get(key);
  if (!image) {
    image = resolveImage(ref, options).then((found) => assertBasePlatform(found, options.platform, ref));
    options.images.set(key, image);
  }
  return image;
}

async function resolveImage(ref: string, options: BaseOptions): Promise<Image> {
  const context = findBuildContext(options.buildContexts, ref);
  if (context?.kind === 'dir') {
    throw new WharfError('ENGINE_CONTEXT_NOT_AN_IMAGE', `build context "${ref}" is a folder, not an image`, {
      hint: `use it with COPY --from=${ref}; for FROM, pass --build-context ${ref}=oci-layout://DIR`,
    });
  }
  // the image it names is not looked up among the build contexts again (`alpine=docker-image://alpine`)
  if (context?.kind === 'image') return resolveImage(context.ref, { ...options, buildContexts: new Map() });
  if (context?.kind === 'layout') return layoutImage(context.dir, context.pick, options);
  if (ref.startsWith(LAYOUT_SCHEME)) {
    const { path, pick } = parseLayoutSpec(ref.slice(LAYOUT_SCHEME.length));
    return layoutImage(await definitionLayoutDir(ref, path, options.layoutRoots), pick, options);
  }
  if (!options.pull) {
    const cached = await cachedBase(options.store, ref, options.platform);
    if (cached) return keepTars(cached, options.store);
  }
  // The layers download in the background: a stage whose base's listings an imported cache has is
  // planned and keyed on the config alone (its steps may all hit); reading a layer waits for it.
  const pulled = await startPull(ref, {
    ...options.registry,
    store: options.store,
    platform: options.platform,
  });
  options.pulls.push(pulled.layers);
  await recordBase(options.store, ref, options.platform, pulled.image);
  return keepTars(pulled.image, options.store);
}

async function layoutImage(dir: string, pick: LayoutPick, options: BaseOptions): Promise<Image> {
  return keepTars(await readLayout(dir, { ...pick, platform: options.platform }), options.store);
}

/** The image (same manifest and digest), its compressed layers' tars kept in the store once read. */
function keepTars(image: Image, store: BlobStore): Image {
  return mapLayers(image, (layer) => keepTar(store, layer));
}
