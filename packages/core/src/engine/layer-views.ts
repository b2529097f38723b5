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
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WharfError } from '../errors.js';
import { writeFileAtomic } from '../fsutil/files.js';
import type { Layer } from '../image/types.js';
import type { LayerEntry } from '../layer/entry.js';
import {
  applyLayerRecords,
  cleanImagePath,
  type LayerRecord,
  MemoryFsView,
  readLayerRecords,
  recordsOfEntries,
} from '../layer/fs-view.js';
import { createDigester, type Digest, digestHex, layerCompression } from '../oci/index.js';
import type { LayerUnpack } from '../runtime/snapshotter.js';
import { readTarOnce } from './kept-tar.js';

/**
 * For a layer whose tar is read for its view: who extracts it in the same pass (the snapshotter's
 * `Snapshotter.unpacker`), or undefined.
 */
export type UnpackFor = (diffId: Digest) => Promise<LayerUnpack | undefined>;

/** The gzip digest recorded (verified) for a tar diffID, if any: engine/compress.ts. */
export type KnownGzip = (diffId: Digest) => Promise<Digest | undefined>;

export class LayerViews {
  /** By diffID and blob digest: two layers claiming one diffID are checked one by one. */
  readonly #pending = new Map<string, Promise<LayerRecord[]>>();

  /**
   * @param knownGzip verified diffID → gzip digest pairs (compressed/ records), so a layer this
   * process or an earlier one gzipped is not read again just to prove its pair.
   */
  constructor(
    private readonly dir: string,
    private readonly knownGzip: KnownGzip = async () => undefined,
  ) {}

  /**
   * The records of a layer: from the cache, else read from its tar once (verified against the diffID)
   * and cached. `source` names the image for messages (`oci-layout://base`).
   */
  records(layer: Layer, source?: string, unpack?: UnpackFor): Promise<LayerRecord[]> {
    return Promise.all([layer.diffId(), layer.digest()]).then(async ([diffId, digest]) => {
      await assertTarDigest(layer, diffId, source ?? 'a layer');
      const key = `${diffId} ${digest}`;
      let pending = this.#pending.get(key);
      if (!pending) {
        pending = this.#load(diffId, digest, layer, source, unpack);
        this.#pending.set(key, pending);
      }
      return pending;
    });
  }

  /**
   * Records the view of a layer this build just wrote from `entries` (the same records reading its tar
   * would give), so applying it never reads the tar back.
   */
  async remember(diffId: Digest, entries: readonly LayerEntry[]): Promise<void> {
    const key = `${diffId} ${diffId}`;
    if (this.#pending.has(key)) return;
    const records = recordsOfEntries(entries);
    this.#pending.set(key, Promise.resolve(records));
    await this.#save(this.#file(digestHex(diffId)), JSON.stringify(records));
  }

  /**
   * Takes the listing an imported cache sent for tar `diffId` (a lazy hit: the tar is not here), for
   * this build only: it is not saved, since no tar was hashed to prove it (a later build that reads
   * the tar makes the saved view). False, and nothing taken, when the listing is malformed: a path
   * that is not clean (`..`, a leading `/`), an unknown op or type, a bad mode or owner, or more than
   * {@link LISTING_LIMIT} records; the step then fetches its layer as before. `digest`: the blob the
   * listing is for when it is not the tar itself (a base image's gzip layer, whose view then needs no
   * unpacking).
   */
  adopt(diffId: Digest, listing: readonly unknown[], digest: Digest = diffId): boolean {
    const key = `${diffId} ${digest}`;
    if (this.#pending.has(key)) return true;
    const records = checkedListing(listing);
    if (!records) return false;
    this.#pending.set(key, Promise.resolve(records));
    return true;
  }

  /**
   * The records of a layer this process already knows (built, read, or adopted), without reading
   * any tar: what `--cache-to` exports as the layer's listing. Undefined when not known. `digest`:
   * the blob, when it is not the tar itself (a base image's gzip layer).
   */
  async known(diffId: Digest, digest: Digest = diffId): Promise<readonly LayerRecord[] | undefined> {
    const pending = this.#pending.get(`${diffId} ${digest}`);
    if (pending) return pending.catch(() => undefined);
    if (!(await this.#provenPair(diffId, digest))) return undefined;
    return readFile(this.#file(digestHex(diffId)), 'utf8').then(
      (text) => JSON.parse(text) as LayerRecord[],
      () => undefined,
    );
  }

  /** Applies a layer to a view. */
  async apply(view: MemoryFsView, layer: Layer): Promise<void> {
    applyLayerRecords(view, await this.records(layer));
  }

  /**
   * A fresh view of a stack of layers (bottom first). With `unpack`, a layer whose tar is read for
   * its view is extracted for RUN steps in the same pass (a base that RUN steps run on): one
   * gunzip, one hash, instead of one pass for the view and another for the first RUN.
   */
  async viewOf(layers: readonly Layer[], source?: string, unpack?: UnpackFor): Promise<MemoryFsView> {
    const all = await Promise.all(
      layers.map((layer, i) => this.records(layer, source && `layer ${i + 1} of ${source}`, unpack)),
    );
    const view = new MemoryFsView();
    for (const records of all) applyLayerRecords(view, records);
    return view;
  }

  /**
   * Whether `digest` is known to hold the tar `diffId`: the same (a tar layer, whose blob its medium
   * verifies), a verified gzip of it (compressed/ records), or a pair verified by reading before.
   * Otherwise a cached view of `diffId` says nothing about this blob: a hostile gzip layer claiming
   * an honest diffID must be read (and fail), not be given the honest layer's view.
   */
  async #provenPair(diffId: Digest, digest: Digest): Promise<boolean> {
    if (digest === diffId || (await this.knownGzip(diffId).catch(() => undefined)) === digest) return true;
    return readFile(this.#pairFile(digest), 'utf8').then(
      (text) => text === diffId,
      () => false,
    );
  }

  async #load(
    diffId: Digest,
    digest: Digest,
    layer: Layer,
    what = 'a layer',
    unpackFor?: UnpackFor,
  ): Promise<LayerRecord[]> {
    const file = this.#file(digestHex(diffId));
    if (await this.#provenPair(diffId, digest)) {
      try {
        return JSON.parse(await readFile(file, 'utf8')) as LayerRecord[];
      } catch {
        // Not cached yet (or unreadable): read the tar.
      }
    }
    const unpack = await unpackFor?.(diffId).catch(() => undefined);
    const digester = createDigester();
    // unpacked too: the extracted layer and the view are all later steps read, the tar is not kept
    const tar = unpack ? await readTarOnce(layer) : await layer.uncompressed();
    const hashed = (async function* () {
      for await (const chunk of tar) {
        digester.update(chunk as Uint8Array);
        yield chunk as Uint8Array;
      }
    })();
    // With `unpack`, the extractor reads the same chunks; what it made is kept only once the hash is checked.
    const checked = deferred();
    let input: AsyncIterable<Uint8Array> = hashed;
    let unpacked: Promise<void> | undefined;
    if (unpack) {
      const [forView, forUnpack] = lockstepTee(coalesced(hashed, UNPACK_CHUNK_BYTES));
      input = forView;
      unpacked = unpack(forUnpack, checked.promise).then(
        () => {},
        () => {}, // best effort: the first RUN extracts the layer itself (and reports a problem)
      );
    }
    let records: LayerRecord[];
    try {
      records = await readLayerRecords(input);
      for await (const _ of input); // the reader reads to the end of the input; the hash covers it all
    } catch (error) {
      checked.reject(error);
      if (unpacked) {
        await input[Symbol.asyncIterator]().return?.();
        await unpacked;
      }
      throw error;
    }
    const actual = digester.digest();
    const mismatch = actual === diffId ? undefined : layerMismatch(what, diffId, actual);
    if (mismatch) checked.reject(mismatch);
    else checked.resolve();
    await unpacked;
    if (mismatch) throw mismatch;
    await this.#save(file, JSON.stringify(records));
    if (digest !== diffId) await this.#save(this.#pairFile(digest), diffId);
    return records;
  }

  /**
   * The cached records of a layer. `v3`: records saved only for tars verified against their diffID
   * (`v2` files may come from an unverified claim, so they are not used).
   */
  #file(hex: string): string {
    return join(this.dir, `${hex}.v3.json`);
  }

  /** `pairs/<blob digest hex>`: the diffID that blob was read and verified to hold. */
  #pairFile(digest: Digest): string {
    return join(this.dir, 'pairs', digestHex(digest));
  }

  /** Best effort: a view that cannot be saved is read from the tar again next time. */
  async #save(file: string, text: string): Promise<void> {
    await writeFileAtomic(file, text, { durable: false }).catch(() => {});
  }
}

/**
 * Gunzip yields 16 KiB pieces; the extractor and the lockstep tee pay per piece (a promise round trip,
 * a write call per file fragment), so the shared pass hands them 1 MiB pieces.
 */
const UNPACK_CHUNK_BYTES = 1024 * 1024;

/** `source` in pieces of at least `bytes` (the last may be shorter). */
async function* coalesced(source: AsyncIterable<Uint8Array>, bytes: number): AsyncGenerator<Uint8Array> {
  let parts: Uint8Array[] = [];
  let have = 0;
  for await (const chunk of source) {
    parts.push(chunk);
    have += chunk.byteLength;
    if (have >= bytes) {
      yield parts.length === 1 ? (parts[0] as Uint8Array) : Buffer.concat(parts, have);
      parts = [];
      have = 0;
    }
  }
  if (have > 0) yield parts.length === 1 ? (parts[0] as Uint8Array) : Buffer.concat(parts, have);
}

/**
 * Two readers of one stream in lockstep: a chunk is pulled from `source` once both have asked for it
 * (or the other has stopped: `return()`), and both get that same chunk. Nothing is buffered beyond
 * the one chunk; the slower reader sets the pace.
 */
function lockstepTee(
  source: AsyncIterable<Uint8Array>,
): [AsyncIterable<Uint8Array>, AsyncIterable<Uint8Array>] {
  const input = source[Symbol.asyncIterator]();
  const asked: [number, number] = [0, 0]; // chunks each reader has asked for
  const stopped: [boolean, boolean] = [false, false];
  let pulled = 0; // chunks pulled from the source
  let ended = false; // the source said done (or failed): later reads get done
  let current: Promise<IteratorResult<Uint8Array>> | undefined;
  let waiting: (() => void)[] = [];
  const wake = () => {
    const woken = waiting;
    waiting = [];
    for (const w of woken) w();
  };
  const reader = (i: 0 | 1): AsyncIterator<Uint8Array> & AsyncIterable<Uint8Array> => ({
    async next() {
      if (stopped[i]) return { done: true, value: undefined };
      const n = ++asked[i]; // this reader's n-th chunk
      const other = i === 0 ? 1 : 0;
      while (pulled < n) {
        if (ended) return { done: true, value: undefined };
        if (stopped[other] || asked[other] >= n) {
          pulled = n;
          current = input.next();
          current.then(
            (r) => {
              ended ||= r.done === true;
              if (ended) wake(); // a reader waiting for a chunk after the last one gets done
            },
            () => {
              ended = true;
              wake();
            },
          );
          wake();
          break;
        }
        await new Promise<void>((resolve) => waiting.push(resolve));
      }
      return current as Promise<IteratorResult<Uint8Array>>;
    },
    async return() {
      if (!stopped[i]) {
        stopped[i] = true;
        wake();
        if (stopped[0] && stopped[1]) await input.return?.();
      }
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  });
  return [reader(0), reader(1)];
}

function deferred(): { promise: Promise<void>; resolve(): void; reject(error: unknown): void } {
  let resolve = () => {};
  let reject: (error: unknown) => void = () => {};
  const promise = new Promise<void>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  promise.catch(() => {}); // a rejection nobody waits for (the unpack already stopped) is not unhandled
  return { promise, resolve, reject };
}

/** Most records a cache's listing of one layer may have (a layer of a million files is rare). */
export const LISTING_LIMIT = 1_000_000;
const NAME_LIMIT = 4096;
const SET_TYPES: readonly string[] = ['file', 'dir', 'symlink', 'hardlink'];

const isCleanPath = (p: unknown, root: boolean): p is string =>
  typeof p === 'string' &&
  p.length <= NAME_LIMIT &&
  !p.includes('\0') &&
  (root ? p === '' || cleanImagePath(p) === p : p !== '' && cleanImagePath(p) === p);
const isId = (n: unknown): n is number =>
  Number.isSafeInteger(n) && (n as number) >= 0 && (n as number) < 2 ** 32;

/**
 * A cache's listing as layer records, each checked and copied field by field (so nothing else a
 * hostile cache put in an object travels on); undefined when any record is malformed.
 */
function checkedListing(listing: readonly unknown[]): LayerRecord[] | undefined {
  if (listing.length > LISTING_LIMIT) return undefined;
  const records: LayerRecord[] = [];
  for (const item of listing) {
    const r = item as Record<string, unknown> | null;
    if (typeof r !== 'object' || r === null) return undefined;
    if (r.op === 'opaque' && isCleanPath(r.dir, true)) records.push({ op: 'opaque', dir: r.dir });
    else if (r.op === 'whiteout' && isCleanPath(r.path, false))
      records.push({ op: 'whiteout', path: r.path });
    else if (
      r.op === 'set' &&
      isCleanPath(r.path, false) &&
      typeof r.type === 'string' &&
      SET_TYPES.includes(r.type) &&
      Number.isInteger(r.mode) &&
      (r.mode as number) >= 0 &&
      (r.mode as number) <= 0o7777 &&
      isId(r.uid) &&
      isId(r.gid) &&
      (r.link === undefined ||
        (typeof r.link === 'string' && r.link.length <= NAME_LIMIT && !r.link.includes('\0')))
    ) {
      records.push({
        op: 'set',
        path: r.path,
        type: r.type as 'file' | 'dir' | 'symlink' | 'hardlink',
        mode: r.mode as number,
        uid: r.uid,
        gid: r.gid,
        ...(typeof r.link === 'string' ? { link: r.link } : {}),
      });
    } else return undefined;
  }
  return records;
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

/**
 * An uncompressed layer's digest *is* its diffID: one whose descriptor says otherwise claims another
 * layer's tar, and is refused before any cache is consulted (its blob is verified against its digest
 * when read, so the two together pin the tar).
 */
export async function assertTarDigest(layer: Layer, diffId: Digest, what: string): Promise<void> {
  if (layerCompression(await layer.mediaType()) !== 'none') return;
  const digest = await layer.digest();
  if (digest !== diffId) {
    throw new WharfError(
      'ENGINE_LAYER_MISMATCH',
      `${what}: an uncompressed layer with digest ${digest}, but the image's config claims diffID ${diffId}`,
      {
        hint: "the image is corrupt or hostile (a tar layer's digest is its diffID); nothing of it was cached",
      },
    );
  }
}
