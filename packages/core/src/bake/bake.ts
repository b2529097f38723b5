/**
 * `bake()`: every chosen target of a definition built in one process, concurrently, over one cache.
 * A stage several targets share is built once (the step runner is single-flight per step key across
 * the process), and pushes share one {@link BlobLocations}, so a blob is uploaded once per registry
 * and cross-repository-mounted into the other repositories.
 */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { type BuildApiOptions, type BuildApiResult, build } from '../build.js';
import { type Definition, define, targetStage, toGraph } from '../dsl/graph.js';
import type { Stage } from '../dsl/stage.js';
import { WharfError } from '../errors.js';
import type { BuildEvent } from '../events.js';
import { mapLimit } from '../fsutil/limit.js';
import type { BuildGraph } from '../ir/types.js';
import { BlobLocations, type PushOptions, type PushStats, sumPushStats } from '../registry/index.js';
import { baseMoves } from './base-moves.js';
import { changedFiles, type TargetChange, targetChanges } from './changes.js';
import { type BakePlan, type BakePlanTarget, resolvePlan, targetEntries } from './plan.js';

/**
 * Options of `bake()`: the targets or groups to build, `--set` overrides, `push`, and the build options
 * every target shares (cache, registry settings, build args under each target's own, events).
 * @example await bake(definition, { targets: ['default'], push: true, set: ['api.tags=r.example/api:dev'] })
 */
export interface BakeOptions
  extends Omit<
    BuildApiOptions,
    'target' | 'output' | 'tags' | 'platform' | 'platforms' | 'push' | 'cacheFrom' | 'cacheTo'
  > {
  /** Targets or groups to build; default the `default` group, else every target. */
  readonly targets?: readonly string[];
  /** Overrides, `TARGET.KEY=VALUE` (`*` for every target): tags, platforms, output, args.NAME, labels.NAME. */
  readonly set?: readonly string[];
  /**
   * Build caches every target imports (`--cache-from` text), replacing the targets' own and
   * `define({ cacheFrom })`; `--set TARGET.cache-from=…` still wins for that target.
   */
  readonly cacheFrom?: readonly string[];
  /**
   * Where every target exports its build cache (`--cache-to` text), chosen the same way. Targets that
   * export to one ref each replace the one before (a warning says so): give each its own.
   */
  readonly cacheTo?: readonly string[];
  /** Push every target to its tags (adds `type=registry` to each target's outputs). */
  readonly push?: boolean;
  /** Registry settings for pushes (upload concurrency, sessions); default `registry`. */
  readonly pushOptions?: PushOptions;
  /**
   * Targets built at once; default twice the machine's parallelism, at least 4. Targets spend much of
   * their time waiting for shared steps or for the registry, so a small limit left the last targets
   * idle until a whole earlier target, push included, was done.
   */
  readonly concurrency?: number;
  /**
   * A git ref (`origin/main`): build only the targets whose inputs changed since it — context files
   * they read (after `.dockerignore`) or the definition file and its local imports. The others are
   * skipped; {@link BakeResult.changes} says why for each.
   */
  readonly changedSince?: string;
}

/** One target's result: `build()`'s, with the target's tags. */
export interface BakeTargetResult extends BuildApiResult {
  readonly tags: readonly string[];
}

/**
 * What `bake()` returns: the plan it built and each target's build result, plus the pushes' totals.
 * @example const { targets } = await bake(definition); console.log(targets.api?.digest)
 */
export interface BakeResult {
  readonly plan: BakePlan;
  readonly targets: Readonly<Record<string, BakeTargetResult>>;
  /** What every push sent, mounted and found, summed (absent when nothing was pushed). */
  readonly pushStats?: PushStats;
  /** With `changedSince`: each chosen target, built or skipped, and why. */
  readonly changes?: Readonly<Record<string, TargetChange>>;
}

/**
 * Builds the chosen targets of `definition` (see the module doc) and writes each target's outputs.
 *
 * @example
 * import { bake, define, stage } from '@wharf/core';
 * const base = stage('base').from('node:20-alpine').run('npm ci');
 * const definition = define({
 *   targets: {
 *     api: { stage: stage('api').from(base).cmd(['node', 'api.js']), tags: ['r.example/api:1.0'] },
 *     web: { stage: stage('web').from(base).cmd(['node', 'web.js']), tags: ['r.example/web:1.0'] },
 *   },
 * });
 * const { targets } = await bake(definition, { push: true, contextDir: import.meta.dirname });
 */
export async function bake(definition: Definition, options: BakeOptions = {}): Promise<BakeResult> {
  const {
    targets: names,
    set,
    push,
    pushOptions,
    buildArgs,
    concurrency,
    changedSince,
    onEvent,
    cacheFrom,
    cacheTo,
    ...shared
  } = options;
  const plan = resolvePlan(definition, {
    ...(names ? { targets: names } : {}),
    ...(set ? { set } : {}),
    ...(push ? { push } : {}),
    ...(cacheFrom ? { cacheFrom } : {}),
    ...(cacheTo ? { cacheTo } : {}),
  });
  const entries = targetEntries(definition);
  const blobs = new BlobLocations();
  const registry = pushOptions ?? options.registry ?? {};
  let chosen = Object.entries(plan.target);
  let changes: Map<string, TargetChange> | undefined;
  /** Targets built because their base tag moved: they pull it rather than reuse the one pulled before. */
  const moved = new Set<string>();
  if (changedSince !== undefined) {
    const contextDir = resolve(shared.contextDir ?? '.');
    const graphs = new Map(
      chosen.map(([name]) => [
        name,
        toGraph(alone(definition, name, targetStage(entries.get(name) as Stage))),
      ]),
    );
    changes = targetChanges(graphs, await changedFiles(contextDir, changedSince), {
      contextDir,
      ...(shared.definitionFile ? { definitionFile: shared.definitionFile } : {}),
      buildContexts: Object.keys(shared.buildContexts ?? {}),
    });
    // a target whose files did not change is still built when its base tag moved
    const unchanged = chosen.filter(([name]) => !changes?.get(name)?.build);
    const checks = new Map(
      unchanged.map(([name, target]) => [
        name,
        {
          graph: graphs.get(name) as BuildGraph,
          target: name,
          tags: target.tags,
          platforms: target.platforms,
        },
      ]),
    );
    for (const [name, change] of await baseMoves(checks, shared.registry ?? {})) {
      changes.set(name, change);
      moved.add(name);
    }
    chosen = chosen.filter(([name]) => changes?.get(name)?.build);
  }
  const several = chosen.length > 1;
  warnSharedCacheExports(chosen, onEvent);
  // A target waiting for a step another target runs never holds up that target: it is running. The
  // pushes share one client per registry (BlobLocations.client), closed when all are done.
  const settled = await mapLimit(
    chosen,
    Math.max(1, concurrency ?? Math.max(4, 2 * availableParallelism())),
    ([name, target]) =>
      settle(async (): Promise<[string, BakeTargetResult]> => {
        const stage = targetStage(entries.get(name) as Stage);
        const labelled = Object.keys(target.labels).length > 0 ? stage.label(target.labels) : stage;
        const result = await build(alone(definition, name, labelled), {
          ...shared,
          target: name,
          tags: target.tags,
          platforms: target.platforms,
          output: target.output,
          buildArgs: { ...buildArgs, ...target.args },
          // the plan chose each target's caches; an empty list keeps define()'s out of build()
          cacheFrom: target['cache-from'] ?? [],
          cacheTo: target['cache-to'] ?? [],
          ...(moved.has(name) ? { pull: true } : {}),
          push: { ...registry, blobs },
          ...(onEvent ? { onEvent: several ? (event) => onEvent(namedFor(name, event)) : onEvent } : {}),
        });
        return [name, { ...result, tags: target.tags }];
      }),
  ).finally(() => blobs.close());
  const failed = settled.flatMap((s, i) => (s.status === 'rejected' ? [[i, s.reason] as const] : []));
  if (failed.length > 0) {
    const [index, reason] = failed[0] as readonly [number, unknown];
    const name = chosen[index]?.[0] ?? '';
    if (failed.length === 1 && reason instanceof WharfError) throw reason;
    throw new WharfError(
      'BAKE_FAILED',
      `bake: ${failed.length} of ${settled.length} targets failed (${name}: ${(reason as Error).message})`,
      { hint: 'fix the first error above and bake again; targets that built are cached', cause: reason },
    );
  }
  const targets = Object.fromEntries(
    settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : [])),
  ) as Record<string, BakeTargetResult>;
  const stats = Object.values(targets).flatMap((t) => (t.pushStats ? [t.pushStats] : []));
  return {
    plan,
    targets,
    ...(stats.length ? { pushStats: sumPushStats(stats) } : {}),
    ...(changes ? { changes: Object.fromEntries(changes) } : {}),
  };
}

/**
 * A cache export replaces what its ref (or folder) held, so targets exporting to one place keep only
 * the last one's steps: say so, once per place, before any work.
 */
function warnSharedCacheExports(
  targets: readonly (readonly [string, BakePlanTarget])[],
  onEvent: ((event: BuildEvent) => void) | undefined,
): void {
  const byPlace = new Map<string, string[]>();
  for (const [name, target] of targets) {
    for (const spec of target['cache-to'] ?? []) {
      const place = /(?:^|,)(?:ref|dest)=([^,]+)/.exec(spec)?.[1] ?? spec;
      byPlace.set(place, [...(byPlace.get(place) ?? []), name]);
    }
  }
  for (const [place, names] of byPlace) {
    if (names.length < 2) continue;
    onEvent?.({
      type: 'warning',
      message: `targets ${names.join(', ')} all export their build cache to ${place}: each export replaces the one before, so it keeps the last target's steps`,
      hint: `give each target its own (targets: { ${names[0]}: { stage, cacheTo: ['type=registry,ref=…:cache-${names[0]}'] } } or --set ${names[0]}.cache-to=…)`,
    });
  }
}

/** A promise's outcome as a value, as `Promise.allSettled` gives it. */
async function settle<T>(work: () => Promise<T>): Promise<PromiseSettledResult<T>> {
  try {
    return { status: 'fulfilled', value: await work() };
  } catch (reason) {
    return { status: 'rejected', reason };
  }
}

/** A build event with the target's name before its stage (`api base`), when several targets build. */
function namedFor(target: string, event: BuildEvent): BuildEvent {
  return 'stage' in event && typeof event.stage === 'string'
    ? { ...event, stage: `${target} ${event.stage}` }
    : event;
}

/** The definition with one target: its args, context and directives kept. */
function alone(definition: Definition, name: string, stage: Stage): Definition {
  return define({
    ...(definition.args ? { args: definition.args } : {}),
    ...(definition.context ? { context: definition.context } : {}),
    ...(definition.directives ? { directives: definition.directives } : {}),
    targets: { [name]: stage },
  });
}

/**
 * Bake's metadata file (`--metadata-file`): per target its manifest (or index) digest, config digest,
 * names and pushed references, in buildx bake's keys where they map.
 * @example await writeFile('metadata.json', JSON.stringify(bakeMetadata(result), null, 2))
 */
export function bakeMetadata(result: BakeResult): Record<string, Record<string, unknown>> {
  return Object.fromEntries(
    Object.entries(result.targets).map(([name, t]) => [
      name,
      {
        'containerimage.digest': t.digest,
        'containerimage.config.digest': t.imageId,
        'image.name': t.tags.join(','),
        'wharf.pushed': t.pushed,
      },
    ]),
  );
}
