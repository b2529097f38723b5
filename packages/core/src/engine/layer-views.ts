/**
 * Filesystem views of layers, cached by diffID under `<cache>/views/`: what each layer adds, replaces
 * and deletes (paths, types, modes, owners, links — no contents). Building the view of a base image or
 * replaying a cached step then reads a small JSON file instead of decompressing the layer again.
 *
 * The key is a diffID, which an image's config only *claims*: a view is saved only for a tar that was
 * hashed to that diffID here (while reading it, or as this build wrote it), so a hostile image that
 * claims another layer's diffID fails (`ENGINE_LAYER_MISMATCH`) instead of poisoning the view that a
 * later, honest build of that layer would read.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WharfError } from '../errors.js';
import type { Layer } from '../image/types.js';
import type { LayerEntry } from '../layer/entry.js';
import {
  applyLayerRecords,
  type LayerRecord,
  MemoryFsView,
  readLayerRecords,
  recordsOfEntries,
} from '../layer/fs-view.js';
import { createDigester, type Digest, digestHex } from '../oci/index.js';

export class LayerViews {
  readonly #pending = new Map<string, Promise<LayerRecord[]>>();

  constructor(private readonly dir: string) {}

  /**
   * The records of a layer: from the cache, else read from its tar once (verified against the diffID)
   * and cached. `source` names the image for messages (`oci-layout://base`).
   */
  records(layer: Layer, source?: string): Promise<LayerRecord[]> {
    return layer.diffId().then((diffId) => {
      const hex = digestHex(diffId);
      let pending = this.#pending.get(hex);
      if (!pending) {
        pending = this.#load(diffId, layer, source);
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
  async viewOf(layers: readonly Layer[], source?: string): Promise<MemoryFsView> {
    const all = await Promise.all(
      layers.map((layer, i) => this.records(layer, source && `layer ${i + 1} of ${source}`)),
    );
    const view = new MemoryFsView();
    for (const records of all) applyLayerRecords(view, records);
    return view;
  }

  async #load(diffId: Digest, layer: Layer, what = 'a layer'): Promise<LayerRecord[]> {
    const file = this.#file(digestHex(diffId));
    try {
      return JSON.parse(await readFile(file, 'utf8')) as LayerRecord[];
    } catch {
      // Not cached yet (or unreadable): read the tar.
    }
    const digester = createDigester();
    const tar = await layer.uncompressed();
    const hashed = (async function* () {
      for await (const chunk of tar) {
        digester.update(chunk as Uint8Array);
        yield chunk as Uint8Array;
      }
    })();
    const records = await readLayerRecords(hashed);
    for await (const _ of hashed); // the reader reads to the end of the input; make sure of it
    const actual = digester.digest();
    if (actual !== diffId) throw layerMismatch(what, diffId, actual);
    await this.#save(file, records);
    return records;
  }

  /**
   * The cached records of a layer. `v3`: records saved only for tars verified against their diffID
   * (`v2` files may come from an unverified claim, so they are not used).
   */
  #file(hex: string): string {
    return join(this.dir, `${hex}.v3.json`);
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

/** `ENGINE_LAYER_MISMATCH`: a layer's tar is not the diffID its image's config claims. */
export function layerMismatch(what: string, claimed: Digest, actual: Digest): WharfError {
  return new WharfError(
    'ENGINE_LAYER_MISMATCH',
    `${what}: its tar hashes to ${actual}, but the image's config claims diffID ${claimed}`,
    {
      hint: 'the image is corrupt or hostile; nothing of it was cached. Rebuild or re-pull it from a source you trust',
    },
  );
}
