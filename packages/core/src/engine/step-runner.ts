/**
 * The one step runner: every layer-producing step (RUN, COPY, ADD, WORKDIR) goes key → hit/miss →
 * execute → record through here. A stage owns one runner; it carries the chain of step keys (the base
 * image's key first, then each layer step's key), so a step's key covers everything below it.
 *
 * A hit is used while its blob is in the store, or can be fetched into it from a cache imported with
 * `--cache-from` (`StepCache.available`); otherwise the step runs again. With the build's views, a
 * hit that an imported cache has a listing for costs no download at all: the listing replays it into
 * the stage's view and its bytes are fetched when something reads them (`StepCache.lazyHit`). Every hit
 * and every run records the step's inputs at its position (the slot), so the next miss there can say
 * what changed; `--no-cache` skips the lookups but still records.
 *
 * Steps are single-flight per key across the process: when concurrent builds (`bake()`, or two
 * `build()` calls over one cache) reach the same step, the second waits for the first to record its
 * result and then takes it from the cache instead of running the step again.
 */
import type { CachedLayer, StepCache, StepInputs } from '../cache/step-cache.js';
import { stepKey } from '../cache/step-cache.js';
import { keyedQueue } from '../fsutil/limit.js';
import { layerFromStore } from '../image/partial.js';
import type { Layer } from '../image/types.js';
import type { BlobStore } from '../store/store.js';
import type { LayerViews } from './layer-views.js';

/** What the runner needs from the build. */
export interface StepRunnerOptions {
  readonly store: BlobStore;
  readonly cache: StepCache;
  /** Skip lookups (every step runs; results are still recorded). */
  readonly noCache: boolean;
  /** What the first step's key builds on: the base image's digest (or scratch + platform). */
  readonly baseKey: string;
  /**
   * The build's layer views: with them, a hit from an imported cache whose listing the cache has
   * takes the listing into the views and its layer is fetched only when read (fully lazy import).
   */
  readonly views?: LayerViews;
  /** Told of every step's key and result, hit or run, with its slot and inputs (what `--cache-to` exports). */
  readonly onRecord?: (key: string, layer: CachedLayer | null, step: RecordedStep) => void;
}

/** Where a recorded step stands and what it read. */
export interface RecordedStep {
  readonly slot: string;
  readonly inputs: StepInputs;
}

/** How a step's end is reported: the stage and step number are already known to it. */
export interface StepReport {
  finished(result?: FinishedStep): void;
}

/** A step's end, for its `step-finished` event. */
export interface FinishedStep {
  readonly layer?: { readonly digest: string; readonly size: number };
  readonly cached?: boolean;
  /** Why the cache missed (the last build at this position differed), or `--no-cache`. */
  readonly miss?: string;
  /** Phase times of a RUN in ms (prepare, run, diff, write). */
  readonly phases?: Readonly<Record<string, number>>;
}

/** The parts of a step's key that the step itself knows (the runner adds the chain). */
export type StepFacts = Omit<StepInputs, 'parent' | 'parentIsBase'>;

/** A layer-producing step for {@link StepRunner.run}. */
export interface LayerStep {
  /** The step's position (build definition + stage + index), for explaining misses. */
  readonly slot: string;
  readonly facts: StepFacts;
  /** Makes the step's layer on a miss (its blob already in the store); no layer: it changed nothing. */
  execute(): Promise<Executed>;
  /**
   * The step always makes a layer (COPY, ADD, WORKDIR with entries): a record of none cannot be its
   * own and is run again. A RUN that changed nothing is recorded as none, and that is a hit.
   */
  readonly alwaysLayer?: boolean;
}

/** What {@link LayerStep.execute} made. */
export interface Executed {
  readonly layer?: CachedLayer;
  readonly phases?: Readonly<Record<string, number>>;
  /** Cleans up after the step is recorded and reported (a RUN's snapshot), so its time is not the step's. */
  release?(): Promise<void>;
}

/** What a step came to: a layer (from the cache or just made), or none; and the step's key. */
export type StepOutcome =
  | { readonly kind: 'layer'; readonly layer: Layer; readonly cached: boolean; readonly key: string }
  | { readonly kind: 'empty'; readonly cached: boolean; readonly key: string };

/**
 * Runs the layer steps of one stage, in order.
 *
 * @example
 * const runner = new StepRunner({ store, cache, noCache: false, baseKey: base.key });
 * const outcome = await runner.run({ slot, facts, execute: () => writeMyLayer() }, report);
 * if (outcome.kind === 'layer') layers.push(outcome.layer);
 */
export class StepRunner {
  readonly #options: StepRunnerOptions;
  #parent: string;
  #parentIsBase = true;

  constructor(options: StepRunnerOptions) {
    this.#options = options;
    this.#parent = options.baseKey;
  }

  /**
   * Looks the step up and returns its layer on a hit (the chain moves on to its key); on a miss
   * nothing is recorded and the chain stays. For steps whose key is known before their work is
   * planned (COPY --from a stage or image: the source's digest), so a hit costs no planning at all.
   */
  async probe(slot: string, facts: StepFacts, report: StepReport): Promise<Layer | undefined> {
    if (this.#options.noCache) return undefined;
    const inputs = this.#inputs(facts);
    const key = stepKey(inputs);
    const found = await this.#options.cache.get(key);
    const layer = found.kind === 'hit' ? await this.#usable(key, found.layer) : undefined;
    if (!layer || found.kind !== 'hit') return undefined;
    this.#advance(key);
    this.#options.onRecord?.(key, found.layer, { slot, inputs });
    const outcome = await this.#hit(found.layer, layer, slot, key, inputs, report);
    return outcome.kind === 'layer' ? outcome.layer : undefined;
  }

  /** The key the next step builds on: the base's, then each step's in turn. */
  get chain(): string {
    return this.#parent;
  }

  /**
   * Takes the layer recorded for `key` when it can be used, for a step known (by its replay record,
   * see steps/copy-replay.ts) to have that key, without its inputs: like {@link probe}, but the key
   * is given. The slot already holds `key`, so nothing is remembered. Undefined (and the chain stays)
   * when the lookups are off, the build exports its cache (which needs every step's inputs), or the
   * layer is gone: the step is planned and run as usual.
   */
  async replay(slot: string, key: string, report: StepReport): Promise<Layer | undefined> {
    if (!this.replays) return undefined;
    const found = await this.#options.cache.get(key);
    const layer = found.kind === 'hit' ? await this.#usable(key, found.layer) : undefined;
    if (!layer || found.kind !== 'hit') return undefined;
    this.#advance(key);
    const outcome = await this.#hit(found.layer, layer, slot, key, undefined, report);
    return outcome.kind === 'layer' ? outcome.layer : undefined;
  }

  /** Whether {@link replay} can answer at all in this build. */
  get replays(): boolean {
    return !this.#options.noCache && !this.#options.onRecord;
  }

  /**
   * Runs a step through the cache: its layer from the cache when recorded and still stored,
   * otherwise `execute()`, recorded under the step's key. The chain moves on to the step's key at
   * once (before the returned promise settles), so the next step can be keyed while this one writes.
   */
  run(step: LayerStep, report: StepReport): Promise<StepOutcome> {
    const inputs = this.#inputs(step.facts);
    const key = stepKey(inputs);
    this.#advance(key);
    if (this.#options.noCache) return this.#run(key, inputs, step, report);
    return oneAtATime(key, () => this.#run(key, inputs, step, report));
  }

  async #run(key: string, inputs: StepInputs, step: LayerStep, report: StepReport): Promise<StepOutcome> {
    const { cache, store, noCache } = this.#options;
    let miss: string | undefined = '--no-cache';
    if (!noCache) {
      const found = await cache.get(key, { slot: step.slot, inputs });
      if (found.kind === 'hit-empty' && !step.alwaysLayer) {
        this.#options.onRecord?.(key, null, { slot: step.slot, inputs });
        return this.#hit(undefined, undefined, step.slot, key, inputs, report);
      }
      const layer = found.kind === 'hit' ? await this.#usable(key, found.layer) : undefined;
      if (found.kind === 'hit' && layer) {
        this.#options.onRecord?.(key, found.layer, { slot: step.slot, inputs });
        return this.#hit(found.layer, layer, step.slot, key, inputs, report);
      }
      // A hit whose blob left the store (pruned) and no imported cache has, or no layer for a step that
      // always makes one, runs again; the explanation compares the inputs.
      miss = found.kind === 'miss' ? found.explanation : await cache.explain(step.slot, inputs);
      // No history here (a fresh machine): an imported cache's record at this position may say why.
      miss ??= cache.explainFromSources(step.slot, inputs);
    }
    const executed = await step.execute();
    const layer = executed.layer;
    try {
      await cache.put(key, layer ?? null);
      this.#options.onRecord?.(key, layer ?? null, { slot: step.slot, inputs });
      await cache.remember(step.slot, key, inputs);
      report.finished({
        ...(layer ? { layer: { digest: layer.digest, size: layer.size } } : {}),
        cached: false,
        ...(miss ? { miss } : {}),
        ...(executed.phases ? { phases: executed.phases } : {}),
      });
    } finally {
      await executed.release?.();
    }
    return layer
      ? { kind: 'layer', layer: layerFromStore(store, layer), cached: false, key }
      : { kind: 'empty', cached: false, key };
  }

  /**
   * A hit's layer when it can be used: lazily (its listing taken into the views, no download) when an
   * imported cache allows, else from the store, fetching it there first if needed; undefined: the
   * blob is gone and no cache has it, so the step runs.
   */
  async #usable(key: string, cached: CachedLayer): Promise<Layer | undefined> {
    const { cache, store, views } = this.#options;
    const lazy = views ? await cache.lazyHit(key, cached, store) : undefined;
    if (lazy && views?.adopt(cached.diffId, lazy.listing)) return lazy.layer;
    return (await cache.available(key, cached, store)) ? layerFromStore(store, cached) : undefined;
  }

  async #hit(
    cached: CachedLayer | undefined,
    layer: Layer | undefined,
    slot: string,
    key: string,
    inputs: StepInputs | undefined, // undefined: a replay, whose slot holds the key already
    report: StepReport,
  ): Promise<StepOutcome> {
    if (inputs) await this.#options.cache.remember(slot, key, inputs);
    if (!cached || !layer) {
      report.finished({ cached: true });
      return { kind: 'empty', cached: true, key };
    }
    report.finished({ layer: { digest: cached.digest, size: cached.size }, cached: true });
    return { kind: 'layer', layer, cached: true, key };
  }

  #inputs(facts: StepFacts): StepInputs {
    return { parent: this.#parent, parentIsBase: this.#parentIsBase, ...facts };
  }

  #advance(key: string): void {
    this.#parent = key;
    this.#parentIsBase = false;
  }
}

/**
 * One run of a step key at a time in this process: a step two builds reach at once runs once, as the
 * second finds the first's record in the cache.
 */
const oneAtATime = keyedQueue();
