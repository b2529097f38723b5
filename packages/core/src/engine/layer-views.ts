/**
 * Filesystem views of layers, cached by diffID under `<cache>/views/`: what each layer adds, replaces
 * and deletes (paths, types, modes, owners, links — no contents). Building the view of a base image or
 * replaying a cached step then reads a small JSON file instead of decompressing the layer again.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Layer } from '../image/types.js';
import type { LayerEntry } from '../layer/entry.js';
import {
  applyLayerRecords,
  type LayerRecord,
  MemoryFsView,
  readLayerRecords,
  recordsOfEntries,
} from '../layer/fs-view.js';
import { type Digest, digestHex } from '../oci/index.js';

export class LayerViews {
  readonly #pending = new Map<string, Promise<LayerRecord[]>>();

  constructor(private readonly dir: string) {}

  /** The records of a layer: from the cache, else read from its tar once and cached. */
  records(layer: Layer): Promise<LayerRecord[]> {
    return layer.diffId().then((diffId) => {
      const hex = digestHex(diffId);
      let pending = this.#pending.get(hex);
      if (!pending) {
        pending = this.#load(hex, layer);
        this.#pending.set(hex, pending);
      }
      return pending;
    });
  }

  /**
   * Records the view of a layer this build just wrote from `entries` (the same records reading its tar
   * would give), so applying it never reads the tar back.
   */
  async remember(diffId: Digest, entries: readonly LayerEntry[]): Promise<void> {
    const hex = digestHex(diffId);
    if (this.#pending.has(hex)) return;
    const records = recordsOfEntries(entries);
    this.#pending.set(hex, Promise.resolve(records));
    await this.#save(this.#file(hex), records);
  }

  /** Applies a layer to a view. */
  async apply(view: MemoryFsView, layer: Layer): Promise<void> {
    applyLayerRecords(view, await this.records(layer));
  }

  /** A fresh view of a stack of layers (bottom first). */
  async viewOf(layers: readonly Layer[]): Promise<MemoryFsView> {
    const all = await Promise.all(layers.map((layer) => this.records(layer)));
    const view = new MemoryFsView();
    for (const records of all) applyLayerRecords(view, records);
    return view;
  }

  async #load(hex: string, layer: Layer): Promise<LayerRecord[]> {
    const file = this.#file(hex);
    try {
      return JSON.parse(await readFile(file, 'utf8')) as LayerRecord[];
    } catch {
      // Not cached yet (or unreadable): read the tar.
    }
    const records = await readLayerRecords(await layer.uncompressed());
    await this.#save(file, records);
    return records;
  }

  /**
   * The cached records of a layer. `v2`: records read since wharf parses tars itself (PAX uid/gid, and
   * old-style directories, differ from what earlier versions recorded), so older files are not used.
   */
  #file(hex: string): string {
    return join(this.dir, `${hex}.v2.json`);
  }

  /** Best effort: a view that cannot be saved is read from the tar again next time. */
  async #save(file: string, records: readonly LayerRecord[]): Promise<void> {
    const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await mkdir(this.dir, { recursive: true });
      await writeFile(temp, JSON.stringify(records));
      await rename(temp, file);
    } catch {
      await rm(temp, { force: true }).catch(() => {});
    }
  }
}
