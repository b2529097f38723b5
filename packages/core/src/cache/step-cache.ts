/**
 * The step cache: a content key for each layer-producing step → the layer it produced.
 *
 * A key is the sha256 of the step's inputs — the parent (base image digest or the previous step's key),
 * the config the step runs with (ENV, USER, WORKDIR …), the ARG values in scope, the expanded
 * instruction and the digests of the files it reads (never mtimes, never secret values). Records are
 * JSON files written to a temp name and renamed, so concurrent builds never see a half-written entry.
 *
 * Every miss is explained: each step position (context folder + stage + step number) remembers the
 * inputs of its last build, and a miss names what differs (see miss-explanation.ts).
 */
import { createHash } from 'node:crypto';
import { type FileHandle, open, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../fsutil/files.js';
import type { Layer } from '../image/types.js';
import type { Digest } from '../oci/index.js';
import type { BlobStore } from '../store/store.js';
import { explainDifference } from './miss-explanation.js';
import type { CacheSource } from './remote.js';
import { portableInputs, portablePosition } from './remote-inputs.js';
import { type CachedFormSource, lazyCacheLayer } from './remote-lazy.js';

/** The parts of a step key, kept so a later miss can say which one changed. */
export interface StepInputs {
  /** The base image digest (first step) or the previous layer step's key. */
  readonly parent: string;
  /** Whether `parent` is the base image (for the explanation). */
  readonly parentIsBase: boolean;
  /** The container config the step runs with (JSON). */
  readonly config: string;
  /** ARG values in scope, `NAME=value`. */
  readonly args: readonly string[];
  /** The instruction after expansion, as text. */
  readonly instruction: string;
  /** Content digests of the files the step reads, by path (COPY/ADD sources, bind mounts). */
  readonly files: Readonly<Record<string, string>>;
  /** Secret ids the step mounts (ids only). */
  readonly secrets?: readonly string[];
  /** The timestamp written into the layer's files (SOURCE_DATE_EPOCH): it changes the layer's bytes. */
  readonly epoch: number;
}

/**
 * Fully lazy import (`StepCache.attach`): a hit with a listing takes no download until its bytes are
 * read. `failed` collects the layers whose fetch failed when finally needed; a build that fails with
 * some there starts over with them in `unusable`, whose steps then run.
 */
export interface LazyImport {
  /** False on the second attempt: every hit is fetched as it is used (a failure: its step runs). */
  readonly lazy: boolean;
  readonly unusable: ReadonlySet<string>;
  readonly failed: Set<string>;
}

export interface CachedLayer {
  readonly digest: Digest;
  readonly diffId: Digest;
  readonly size: number;
  readonly mediaType: string;
  readonly uncompressedSize?: number;
}

/** How a step can be replayed without planning it (see {@link StepCache.replayAt}). */
export interface ReplayRecord {
  /** A digest of the chain key below the step, checked before anything else. */
  readonly chain: string;
  /** What must hold for `key` to be the step's key (a digest the replayer makes). */
  readonly condition: string;
  readonly key: string;
  /** What the replayer checks, as it wrote it. */
  readonly body: string;
}

/** What {@link StepCache.get} found for a key. */
export type StepLookup =
  /** The step made this layer (its blob may since have left the store: check before use). */
  | { readonly kind: 'hit'; readonly layer: CachedLayer }
  /** The step ran and changed nothing: no layer. */
  | { readonly kind: 'hit-empty' }
  /** Nothing recorded; `explanation` names what changed since the last build at the step's position. */
  | { readonly kind: 'miss'; readonly explanation?: string };

interface Record_ {
  readonly key: string;
  readonly layer: CachedLayer | null;
  readonly created: string;
}

/** Bumped when the key's spelling changes: records made under another version just miss. */
export const KEY_VERSION = 2;

/**
 * A step's cache key: sha256 of its inputs. The files go in one line each, sorted by name and fed to
 * the hash in pieces — a 26 000-file COPY used to build an entry array, sort it and make one JSON
 * string of it (~30 MB of heap at the build's memory peak). Lines are length-prefixed, so no name or
 * value can be spelled to look like two.
 */
export function stepKey(inputs: StepInputs): string {
  const hash = createHash('sha256');
  hash.update(
    JSON.stringify({
      v: KEY_VERSION,
      parent: inputs.parent,
      config: inputs.config,
      args: [...inputs.args].sort(),
      instruction: inputs.instruction,
      secrets: [...(inputs.secrets ?? [])].sort(),
      epoch: inputs.epoch,
    }),
  );
  for (const piece of fileLines(inputs.files)) hash.update(piece);
  return hash.digest('hex');
}

/** Files (name → value) as `<length> <name> <length> <value>\n` lines, sorted by name, in pieces. */
function* fileLines(files: Readonly<Record<string, string>>): Generator<string> {
  const PIECE = 512;
  let piece = '';
  let count = 0;
  for (const name of sortedNames(files)) {
    const value = files[name] as string;
    piece += `${name.length} ${name} ${value.length} ${value}\n`;
    if (++count === PIECE) {
      yield piece;
      piece = '';
      count = 0;
    }
  }
  if (piece) yield piece;
}

/** The names of `files` in code-unit order (a planner's entries mostly come sorted: checked first). */
function sortedNames(files: Readonly<Record<string, string>>): string[] {
  const names = Object.keys(files);
  for (let i = 1; i < names.length; i++) {
    if ((names[i - 1] as string) > (names[i] as string)) return names.sort();
  }
  return names;
}

/** Parses {@link fileLines}' text from `at`: the files, or undefined when it is not well formed. */
function parseFileLines(text: string, at: number): Record<string, string> | undefined {
  // No prototype: a file named `__proto__` is a file like any other.
  const files = Object.create(null) as Record<string, string>;
  const field = (): string | undefined => {
    const space = text.indexOf(' ', at);
    const length = Number(text.slice(at, space));
    if (space < 0 || !Number.isInteger(length) || length < 0) return undefined;
    const value = text.slice(space + 1, space + 1 + length);
    at = space + 1 + length + 1;
    return value.length === length ? value : undefined;
  };
  while (at < text.length) {
    const name = field();
    if (name === undefined || text[at - 1] !== ' ') return undefined;
    const value = field();
    if (value === undefined || text[at - 1] !== '\n') return undefined;
    files[name] = value;
  }
  return files;
}

export class StepCache {
  /** Imported caches (`--cache-from`), consulted in order after the local records. */
  #sources: readonly CacheSource[] = [];
  #onWarning: (message: string, hint?: string) => void = () => {};
  /** Layers fetched (or being fetched) from a source in this build, by digest: each once. */
  readonly #fetching = new Map<string, Promise<boolean>>();
  /** Compressed forms fetched as they travel, by the tar's digest: each once. */
  readonly #fetchingForms = new Map<string, Promise<boolean>>();
  #lazy: LazyImport | undefined;
  /** Lazy hits' layers in this build, by digest (export and outputs read them through these). */
  readonly #lazyLayers = new Map<
    string,
    {
      readonly layer: Layer & CachedFormSource;
      readonly cached: CachedLayer;
      readonly source: CacheSource;
      readonly scheme?: string;
    }
  >();

  constructor(private readonly root: string) {}

  /**
   * Consults `sources` (imported with `importCache`, tried in order) for keys the local cache lacks.
   * A layer's blob is fetched when a hit needs it ({@link available}); a fetch that fails is a warning
   * and the step runs.
   *
   * @example
   * cache.attach([await importCache(spec, { store })], (message) => console.warn(message));
   */
  attach(
    sources: readonly CacheSource[],
    onWarning: (message: string, hint?: string) => void,
    lazy?: LazyImport,
  ): void {
    this.#sources = sources;
    this.#onWarning = onWarning;
    this.#lazy = lazy;
  }

  /**
   * A hit whose blob is not in `store` but whose listing an imported cache has: its layer, fetched
   * only when read, and the listing (what replaying it into a stage's view needs). Undefined when
   * the import is not lazy, the blob is stored, or no source has a listing (then {@link available}).
   *
   * @example
   * const lazy = await cache.lazyHit(key, found.layer, store);
   * if (lazy && views.adopt(found.layer.diffId, lazy.listing)) useLayer(lazy.layer);
   */
  async lazyHit(
    key: string,
    layer: CachedLayer,
    store: BlobStore,
  ): Promise<{ readonly layer: Layer; readonly listing: readonly unknown[] } | undefined> {
    const lazy = this.#lazy;
    if (!lazy?.lazy || lazy.unusable.has(layer.digest) || (await store.has(layer.digest))) return undefined;
    const source = this.#sources.find((s) => s.digests.has(layer.digest) && s.listings.has(layer.digest));
    const listing = source?.listings.get(layer.digest);
    if (!source || !listing) return undefined;
    let made = this.#lazyLayers.get(layer.digest)?.layer;
    if (!made) {
      const form = source.form(layer);
      const failed = (ok: boolean) => {
        if (!ok) lazy.failed.add(layer.digest);
        return ok;
      };
      made = lazyCacheLayer({
        store,
        layer,
        source: source.name,
        fetch: async () => failed(await this.available(key, layer, store)),
        ...(form
          ? { form: { ...form, fetch: async () => failed(await this.#fetchForm(source, layer)) } }
          : {}),
      });
      this.#lazyLayers.set(layer.digest, {
        layer: made,
        cached: layer,
        source,
        ...(form?.scheme ? { scheme: form.scheme } : {}),
      });
    }
    return { layer: made, listing };
  }

  /**
   * Whether the imported cache of a lazy hit with tar digest `digest` still holds its blob (a HEAD
   * request or a stat); true for any other layer. A layer found gone is added to the failed ones.
   */
  async stillHeld(digest: string, store: BlobStore): Promise<boolean> {
    const lazy = this.#lazyLayers.get(digest);
    if (!lazy || !this.#lazy || (await store.has(lazy.cached.digest))) return true;
    const held = await lazy.source.holds(lazy.cached).catch(() => false);
    if (!held) {
      this.#lazy.failed.add(digest);
      this.#onWarning(`cache import from ${lazy.source.name}: layer ${digest} is no longer there`);
    }
    return held;
  }

  /**
   * Waits for the fetches under way (a background compression of a lazy layer may have started
   * one), so closing the sources cuts none off.
   */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.#fetching.values(), ...this.#fetchingForms.values()]);
  }

  /** The layer of a lazy hit of this build with tar digest `digest`, if there was one. */
  lazyLayer(digest: string): (Layer & CachedFormSource) | undefined {
    return this.#lazyLayers.get(digest)?.layer;
  }

  /**
   * Brings blob `digest` into `store` when it belongs to a lazy hit of this build (its tar, or the
   * compressed form its cache sends); false when it is neither stored nor such a blob, or its fetch
   * failed (a warning).
   */
  async ensure(digest: Digest, store: BlobStore): Promise<boolean> {
    if (await store.has(digest)) return true;
    const opened = (stream: Promise<NodeJS.ReadableStream & { destroy(): void }>) =>
      stream.then(
        (s) => {
          s.destroy(); // opening fetched it: the bytes are read from the store later
          return true;
        },
        () => false,
      );
    for (const [tar, { layer, scheme }] of this.#lazyLayers) {
      if (tar === digest) return opened(layer.uncompressed());
      const form = scheme ? layer.cachedForm?.(scheme) : undefined;
      if (form && (await form.digest()) === digest) return opened(form.compressed());
    }
    return false;
  }

  #fetchForm(source: CacheSource, layer: CachedLayer): Promise<boolean> {
    let fetching = this.#fetchingForms.get(layer.digest);
    if (!fetching) {
      fetching = source.fetchForm(layer).then(
        () => true,
        (error: Error) => {
          this.#onWarning(
            `cache import from ${source.name}: the compressed form of layer ${layer.digest} could not be fetched (${error.message})`,
            'the build is unaffected; check the cache ref and the registry',
          );
          return false;
        },
      );
      this.#fetchingForms.set(layer.digest, fetching);
    }
    return fetching;
  }

  /**
   * What is recorded for `key`: its layer, a step that made none, or a miss. With `history`, a miss
   * says why: what differs from the last build at that step position (see {@link explain}).
   *
   * @example
   * const found = await cache.get(stepKey(inputs), { slot, inputs });
   * if (found.kind === 'miss') console.log(found.explanation ?? 'first build of this step');
   */
  async get(
    key: string,
    history?: { readonly slot: string; readonly inputs: StepInputs },
  ): Promise<StepLookup> {
    let record: Record_ | undefined;
    try {
      record = JSON.parse(await readFile(this.#path(key), 'utf8')) as Record_;
    } catch {
      record = undefined; // none, or torn: a miss
    }
    if (record?.key === key)
      return record.layer === null ? { kind: 'hit-empty' } : { kind: 'hit', layer: record.layer };
    for (const source of this.#sources) {
      const layer = source.records.get(key);
      if (layer === undefined) continue;
      if (layer === null) {
        await this.put(key, null); // known locally from now on
        return { kind: 'hit-empty' };
      }
      return { kind: 'hit', layer };
    }
    const explanation = history ? await this.explain(history.slot, history.inputs) : undefined;
    return explanation === undefined ? { kind: 'miss' } : { kind: 'miss', explanation };
  }

  /**
   * Whether a hit's layer blob is in `store`: already there, or fetched now from an imported cache
   * that has it (then `key` is recorded locally too). False when no source has it or the fetch fails
   * (a warning naming the source): the step runs again.
   *
   * @example
   * if (found.kind === 'hit' && (await cache.available(key, found.layer, store))) useLayer(found.layer);
   */
  async available(key: string, layer: CachedLayer, store: BlobStore): Promise<boolean> {
    if (await store.has(layer.digest)) return true;
    if (this.#lazy?.unusable.has(layer.digest)) return false; // failed when an earlier attempt needed it
    let fetching = this.#fetching.get(layer.digest);
    if (!fetching) {
      fetching = this.#fetch(layer);
      this.#fetching.set(layer.digest, fetching);
    }
    if (!(await fetching)) return false;
    await this.put(key, layer);
    return true;
  }

  /**
   * The layer an imported cache holds for cache mount `id` (`--cache-to …,mounts=true`), brought into
   * `store`; undefined when no source has one or its fetch fails (a warning).
   *
   * @example
   * const layer = await cache.importedMount('npm', store); // then extract it into the mount's directory
   */
  async importedMount(id: string, store: BlobStore): Promise<CachedLayer | undefined> {
    for (const source of this.#sources) {
      const layer = source.mounts.get(id);
      if (!layer) continue;
      if (await store.has(layer.digest)) return layer;
      let fetching = this.#fetching.get(layer.digest);
      if (!fetching) {
        fetching = this.#fetch(layer);
        this.#fetching.set(layer.digest, fetching);
      }
      return (await fetching) ? layer : undefined;
    }
    return undefined;
  }

  /** Cache mount ids the build's RUN steps use → the stages using them (what `mounts=true` exports). */
  readonly mountsUsed = new Map<string, Set<string>>();

  /** Notes that a RUN step of `stage` uses cache mount `id` (hit or run). */
  useMount(id: string, stage: string): void {
    const stages = this.mountsUsed.get(id) ?? new Set<string>();
    stages.add(stage);
    this.mountsUsed.set(id, stages);
  }

  async #fetch(layer: CachedLayer): Promise<boolean> {
    for (const source of this.#sources) {
      if (!source.digests.has(layer.digest)) continue;
      try {
        await source.fetch(layer);
        return true;
      } catch (error) {
        this.#onWarning(
          `cache import from ${source.name}: layer ${layer.digest} could not be fetched (${(error as Error).message}); the step runs`,
          'the build is unaffected; check the cache ref and the registry',
        );
      }
    }
    return false;
  }

  async put(key: string, layer: CachedLayer | null): Promise<void> {
    await writeAtomic(
      this.#path(key),
      JSON.stringify({ key, layer, created: new Date().toISOString() } satisfies Record_),
    );
  }

  /**
   * Remembers the inputs of the step at `slot` (for explaining the next miss there) and their key. A
   * hit whose key is the one the slot holds writes nothing (a warm build's 26 000-file COPY rewrote
   * megabytes each time).
   */
  async remember(slot: string, key: string, inputs: StepInputs): Promise<void> {
    const path = this.#slotPath(slot);
    if ((await slotKey(path)) === key) return;
    await writeAtomic(path, slotRecord(key, inputs));
  }

  /**
   * Keeps how the step at `slot` can be replayed (engine/steps/copy-replay.ts): under `condition`,
   * its key is `key`; `body` is what the replay checks, in pieces. Beside the slot's record, never
   * fsynced (lost: the next build plans the step and writes it again).
   */
  async rememberReplay(
    slot: string,
    record: Omit<ReplayRecord, 'body'>,
    body: Iterable<string>,
  ): Promise<void> {
    const header = `${REPLAY_HEADER}${record.chain} ${record.condition} ${record.key}\n`;
    await writeAtomic(
      this.#slotPath(slot, 'replay'),
      (function* () {
        yield header;
        yield* body;
      })(),
    );
  }

  /**
   * The replay record at `slot`, when there is one and the slot's record still holds its key (a
   * build at this position since then, without one, leaves it stale: not used).
   */
  async replayAt(slot: string): Promise<ReplayRecord | undefined> {
    let text: string;
    try {
      text = await readFile(this.#slotPath(slot, 'replay'), 'utf8');
    } catch {
      return undefined;
    }
    const match = REPLAY_FIRST_LINE.exec(text);
    if (!match) return undefined;
    const [line, chain, condition, key] = match as unknown as [string, string, string, string];
    if ((await slotKey(this.#slotPath(slot))) !== key) return undefined;
    return { chain, condition, key, body: text.slice(line.length) };
  }

  /** Why `inputs` missed at `slot`: one line, or undefined when the slot has no history. */
  async explain(slot: string, inputs: StepInputs): Promise<string | undefined> {
    let text: string;
    try {
      text = await readFile(this.#slotPath(slot), 'utf8');
    } catch {
      return undefined;
    }
    const previous = parseSlotRecord(text);
    return previous && explainDifference(previous, inputs);
  }

  /**
   * Why `inputs` missed, from an imported cache's record at the same position (another machine's
   * build): one line naming the cache and what differs, or undefined when no cache has one.
   */
  explainFromSources(slot: string, inputs: StepInputs): string | undefined {
    const at = portablePosition(slot);
    for (const source of this.#sources) {
      const found = source.positions.get(at);
      if (!found) continue;
      const portable = portableInputs(inputs);
      if (!portable) return undefined;
      const why = explainDifference(found.inputs, portable);
      return `remote cache ${source.name} had ${found.key.slice(0, 12)}: ${why}`;
    }
    return undefined;
  }

  /** Every record with its size on disk, newest first. */
  async list(): Promise<{ key: string; layer: CachedLayer | null; created: string }[]> {
    const dir = join(this.root, 'steps');
    const names = await readdir(dir).catch(() => [] as string[]);
    const records = await Promise.all(
      names
        .filter((n) => n.endsWith('.json'))
        .map(async (n) => JSON.parse(await readFile(join(dir, n), 'utf8')) as Record_),
    );
    return records.sort((a, b) => (a.created < b.created ? 1 : -1));
  }

  /** Removes step records (not blobs); `keep` decides which stay. */
  async prune(
    keep: (record: { key: string; layer: CachedLayer | null; created: string }) => boolean,
  ): Promise<number> {
    let removed = 0;
    for (const record of await this.list()) {
      if (keep(record)) continue;
      await rm(this.#path(record.key), { force: true });
      removed++;
    }
    return removed;
  }

  #path(key: string): string {
    return join(this.root, 'steps', `${key}.json`);
  }

  /** A slot's record: `.v2` (older `.json` records are never read, see slotRecord), or its `.replay`. */
  #slotPath(slot: string, kind: 'v2' | 'replay' = 'v2'): string {
    return join(this.root, 'slots', `${createHash('sha256').update(slot).digest('hex')}.${kind}`);
  }
}

/** Records are rebuilt by the next build when lost, so they skip the fsyncs (a step costs two writes). */
function writeAtomic(path: string, data: string | Iterable<string>): Promise<void> {
  return writeFileAtomic(path, data, { durable: false });
}

/**
 * A slot's record, in pieces: `wharf step position v2 <key>` on the first line (a hit compares only
 * that), the inputs but the files as JSON on the second, then the files as in the key ({@link fileLines}).
 */
function* slotRecord(key: string, inputs: StepInputs): Generator<string> {
  const { files, ...rest } = inputs;
  yield `${SLOT_HEADER}${key}\n${JSON.stringify(rest)}\n`;
  yield* fileLines(files);
}

const SLOT_HEADER = 'wharf step position v2 ';

const REPLAY_HEADER = 'wharf step replay v2 ';
/** A replay record's first line: the header, the chain, the condition and the key (hex sha256 each). */
const REPLAY_FIRST_LINE = /^wharf step replay v2 ([0-9a-f]{64}) ([0-9a-f]{64}) ([0-9a-f]{64})\n/;
/** The first line of a slot record: the header and a hex sha256 key. */
const SLOT_FIRST_LINE = SLOT_HEADER.length + 64 + 1;

/** The key a slot's record holds (its first line only), or undefined when there is none. */
async function slotKey(path: string): Promise<string | undefined> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, 'r');
    const buffer = Buffer.alloc(SLOT_FIRST_LINE);
    const { bytesRead } = await handle.read(buffer, 0, SLOT_FIRST_LINE, 0);
    const line = buffer.toString('latin1', 0, bytesRead);
    return line.startsWith(SLOT_HEADER) && line.endsWith('\n')
      ? line.slice(SLOT_HEADER.length, -1)
      : undefined;
  } catch {
    return undefined;
  } finally {
    await handle?.close();
  }
}

/** The inputs a slot record holds, or undefined when it is torn or not one. */
function parseSlotRecord(text: string): StepInputs | undefined {
  if (!text.startsWith(SLOT_HEADER)) return undefined;
  const first = text.indexOf('\n');
  const second = text.indexOf('\n', first + 1);
  if (first < 0 || second < 0) return undefined;
  let rest: Omit<StepInputs, 'files'>;
  try {
    rest = JSON.parse(text.slice(first + 1, second)) as Omit<StepInputs, 'files'>;
  } catch {
    return undefined;
  }
  const files = parseFileLines(text, second + 1);
  return files && { ...rest, files };
}

/** Total compressed bytes of the layers a set of records point at (for `cache ls` and pruning). */
export function recordBytes(records: readonly { layer: CachedLayer | null }[]): number {
  return records.reduce((sum, r) => sum + (r.layer?.size ?? 0), 0);
}

/** Parses sizes like `10GB`, `500MiB`, `0` (bytes when no unit). */
export function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?$/i.exec(text.trim());
  if (!match) throw new Error(`invalid size "${text}"`);
  const unit = (match[2] ?? '').toLowerCase().replace(/b$/, '');
  const powers: Record<string, number> = {
    '': 1,
    k: 1e3,
    m: 1e6,
    g: 1e9,
    t: 1e12,
    ki: 2 ** 10,
    mi: 2 ** 20,
    gi: 2 ** 30,
    ti: 2 ** 40,
  };
  const factor = powers[unit];
  if (factor === undefined) throw new Error(`invalid size "${text}"`);
  return Math.round(Number(match[1]) * factor);
}
