/**
 * Reads small files (`/etc/passwd`, `/etc/group`) from a stage's filesystem: the entries this stage
 * wrote so far, else the base image's layers, top layer first, honouring whiteouts. Used to resolve
 * `--chown=name` and `USER name` the way BuildKit does, inside the image rather than on the host.
 * A layer's records (its cached view) tell which layer holds the file, so only that one is read, and
 * only up to the file.
 */
import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import type { Layer } from '../image/types.js';
import type { LayerEntry } from '../layer/entry.js';
import type { LayerRecord } from '../layer/fs-view.js';
import { TarReader } from '../tar/reader.js';

/** Where a layer's records come from (the engine's LayerViews). */
export interface LayerRecordSource {
  records(layer: Layer): Promise<readonly LayerRecord[]>;
}

/** Files larger than this are not read for name lookups. */
const MAX_BYTES = 4 * 1024 * 1024;

type WrittenStep = { readonly entries: ReadonlyMap<string, LayerEntry> } | { readonly layer: Layer };

export class StageFiles {
  /** What this stage wrote, oldest first: COPY entries by path, or whole layers (RUN, cached steps). */
  readonly #steps: WrittenStep[] = [];
  readonly #baseCache = new Map<string, Promise<Uint8Array | undefined>>();

  constructor(
    private readonly baseLayers: () => Promise<readonly Layer[]>,
    private readonly views?: LayerRecordSource,
  ) {}

  /** Records entries a COPY/ADD/WORKDIR step of this stage wrote. */
  record(entries: readonly LayerEntry[]): void {
    this.#steps.push({ entries: new Map(entries.map((e) => [e.path, e])) });
  }

  /** Records a layer this stage added as a whole (a RUN step, or a step taken from the cache). */
  recordLayer(layer: Layer): void {
    this.#steps.push({ layer });
  }

  async read(path: string): Promise<Uint8Array | undefined> {
    const clean = posix.normalize(`/${path}`).slice(1);
    for (let i = this.#steps.length - 1; i >= 0; i--) {
      const step = this.#steps[i] as WrittenStep;
      if ('entries' in step) {
        const entry = step.entries.get(clean);
        if (entry) return entry.type === 'file' ? contentOf(entry) : undefined;
        continue;
      }
      const found = await this.#find(step.layer, clean);
      if (found === 'deleted') return undefined;
      if (found) return found;
    }
    let cached = this.#baseCache.get(clean);
    if (!cached) {
      cached = this.#readFromLayers(clean);
      this.#baseCache.set(clean, cached);
    }
    return cached;
  }

  async #readFromLayers(clean: string): Promise<Uint8Array | undefined> {
    const layers = await this.baseLayers();
    for (let i = layers.length - 1; i >= 0; i--) {
      const found = await this.#find(layers[i] as Layer, clean);
      if (found === 'deleted') return undefined;
      if (found) return found;
    }
    return undefined;
  }

  /** {@link findInLayer}, skipped when the layer's records show it does not touch `clean`. */
  async #find(layer: Layer, clean: string): Promise<Uint8Array | 'deleted' | undefined> {
    if (this.views) {
      const touch = touches(await this.views.records(layer), clean);
      if (touch === 'none') return undefined;
      if (touch === 'deleted') return 'deleted';
    }
    return findInLayer(layer, clean);
  }
}

/** Whether a layer sets `clean` as a file, deletes it (whiteout, or an opaque parent), or neither. */
function touches(records: readonly LayerRecord[], clean: string): 'file' | 'deleted' | 'none' {
  let result: 'file' | 'deleted' | 'none' = 'none';
  for (const record of records) {
    if (record.op === 'set') {
      if (record.path === clean)
        return record.type === 'file' || record.type === 'hardlink' ? 'file' : 'deleted';
    } else if (record.op === 'whiteout') {
      if (record.path === clean || clean.startsWith(`${record.path}/`)) result = 'deleted';
    } else if (record.dir === '' || clean.startsWith(`${record.dir}/`)) {
      result = 'deleted'; // an opaque directory hides what lower layers had under it
    }
  }
  return result;
}

async function contentOf(entry: Extract<LayerEntry, { type: 'file' }>): Promise<Uint8Array | undefined> {
  if (entry.size > MAX_BYTES) return undefined;
  switch (entry.content.kind) {
    case 'bytes':
      return entry.content.data;
    case 'path':
      return readFile(entry.content.path);
    case 'archive':
      return undefined;
  }
}

/** The file's bytes if this layer has it, `'deleted'` if the layer whites it out, else undefined. */
async function findInLayer(layer: Layer, clean: string): Promise<Uint8Array | 'deleted' | undefined> {
  const whiteout = posix.join(posix.dirname(clean), `.wh.${posix.basename(clean)}`);
  let result: Uint8Array | 'deleted' | undefined;
  const reader = new TarReader(await layer.uncompressed());
  for await (const entry of reader) {
    const name = posix
      .normalize(entry.name)
      .replace(/^(\.\/|\/)+/, '')
      .replace(/\/$/, '');
    if (name === whiteout) result = 'deleted';
    if (name === clean && entry.type === 'file' && entry.size <= MAX_BYTES) {
      const chunks: Buffer[] = [];
      for await (const piece of reader.content()) chunks.push(piece);
      // A layer holds a path once: stop here (leaving the loop closes the rest of a big base layer).
      return Buffer.concat(chunks);
    }
  }
  return result;
}
