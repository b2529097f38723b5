/**
 * A hit from an imported cache as a Layer whose bytes are fetched only when something reads them
 * (fully lazy import): its digest, diffID, size and media type come from the cache's record, so
 * planning, image configs and manifests need no download. The tar is fetched into the store on the
 * first `uncompressed()`/`compressed()`; the compressed form the cache sends (`compression=gzip|zstd`)
 * is offered to engine/compress.ts through {@link CachedFormSource.cachedForm}, so an image output
 * uses that blob as is when it was made with the output's own scheme (same digest as a cold build).
 *
 * A fetch that fails throws `CACHE_LAYER_UNAVAILABLE`; the engine then builds again with the layer
 * marked unusable (its step runs) — see docs/remote-cache.md, "Lazy import".
 */
import { WharfError } from '../errors.js';
import { layerFromOpener, withLayerMediaType } from '../image/partial.js';
import type { Layer } from '../image/types.js';
import type { Descriptor, Digest } from '../oci/index.js';
import type { BlobStore } from '../store/store.js';
import type { CachedLayer } from './step-cache.js';

/** A layer that may carry a ready compressed form (read by engine/compress.ts). */
export interface CachedFormSource {
  /** The compressed form of this tar layer made with `scheme`, when a cache sends one. */
  cachedForm?(scheme: string): Layer | undefined;
  /**
   * Brings into the store, now, what an output of compression `scheme` will read of this layer: the
   * form the cache sends when it was made with `scheme`, else the tar. Rejects as a read would.
   */
  prefetch?(scheme: string): Promise<void>;
}

/** What {@link lazyCacheLayer} needs. */
export interface LazyLayerOptions {
  readonly store: BlobStore;
  readonly layer: CachedLayer;
  /** The cache's name, for the error. */
  readonly source: string;
  /** Brings the tar into the store; false when it cannot (a warning was given). */
  readonly fetch: () => Promise<boolean>;
  /** The compressed form the cache sends, with its scheme, and how to bring it into the store as is. */
  readonly form?: {
    readonly descriptor: Descriptor;
    readonly scheme?: string;
    readonly fetch: () => Promise<boolean>;
  };
}

/**
 * The hit's layer, fetched on first read.
 *
 * @example
 * const layer = lazyCacheLayer({ store, layer: cached, source: ref, fetch: () => cache.fetchLayer(cached) });
 * await layer.digest(); // no download
 */
export function lazyCacheLayer(options: LazyLayerOptions): Layer & CachedFormSource {
  const { store, layer } = options;
  const ensure = async (digest: Digest, fetch: () => Promise<boolean>) => {
    if ((await store.has(digest)) || (await fetch())) return;
    throw new WharfError(
      'CACHE_LAYER_UNAVAILABLE',
      `cache layer ${layer.digest} from ${options.source} could not be fetched when it was needed`,
      { hint: 'the build starts over with that step run locally; check the cache ref and the registry' },
    );
  };
  const tar = layerFromOpener(
    async () => {
      await ensure(layer.digest, options.fetch);
      return store.open(layer.digest);
    },
    {
      mediaType: layer.mediaType,
      digest: layer.digest,
      diffId: layer.diffId,
      size: layer.size,
      uncompressedSize: layer.uncompressedSize ?? layer.size,
    },
  );
  const form = options.form;
  const prefetchTar = () => ensure(layer.digest, options.fetch);
  if (!form?.scheme) return { ...withLayerMediaType(tar, layer.mediaType), prefetch: prefetchTar };
  const formLayer = layerFromOpener(
    async () => {
      await ensure(form.descriptor.digest, form.fetch);
      return store.open(form.descriptor.digest);
    },
    {
      mediaType: form.descriptor.mediaType,
      digest: form.descriptor.digest,
      diffId: layer.diffId,
      size: form.descriptor.size,
      uncompressedSize: layer.uncompressedSize ?? layer.size,
    },
  );
  // The tar is read through the tar layer (fetched once), not by decompressing the form again.
  // (withLayerMediaType with the layer's own type: a plain object calling its methods, which spreads)
  const compressedForm: Layer = {
    ...withLayerMediaType(formLayer, form.descriptor.mediaType),
    uncompressed: () => tar.uncompressed(),
  };
  return {
    ...withLayerMediaType(tar, layer.mediaType),
    cachedForm: (scheme) => (scheme === form.scheme ? compressedForm : undefined),
    prefetch: (scheme) =>
      scheme === form.scheme ? ensure(form.descriptor.digest, form.fetch) : prefetchTar(),
  };
}
