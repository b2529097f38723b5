/**
 * Fixtures (go-containerregistry's `random`): layers and images with random content, built in memory
 * or in a blob store, plus a layer from a few named files. Small by design: meant for tests.
 */
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import {
  appendLayers,
  emptyImage,
  type Image,
  type Layer,
  layerFromBytes,
  layerFromStore,
} from '../image/index.js';
import { MediaType, type Platform, sha256Digest } from '../oci/index.js';
import type { BlobStore } from '../store/index.js';

export interface FileLayerOptions {
  /** Default 2000-01-01T00:00:00Z: a fixed time, so the same files give the same digests. */
  readonly mtime?: Date;
  /** Default `application/vnd.oci.image.layer.v1.tar+gzip`; an uncompressed type skips gzip. */
  readonly mediaType?: string;
  /** Put the blob into this store and read it from there. */
  readonly store?: BlobStore;
  /** File mode; default 0o644. */
  readonly mode?: number;
}

const FIXED_TIME = new Date('2000-01-01T00:00:00Z');

/** A deterministic tar of `files` (paths without a leading `/`; parent directories are added). */
export async function tarOf(
  files: Readonly<Record<string, string | Uint8Array>>,
  options: FileLayerOptions = {},
): Promise<Buffer> {
  const mtime = options.mtime ?? FIXED_TIME;
  const tar = pack();
  const done = (async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of tar) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  })();
  const dirs = new Set<string>();
  for (const path of Object.keys(files).sort()) {
    const clean = path.replace(/^\/+/, '');
    const parts = clean.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = `${parts.slice(0, i).join('/')}/`;
      if (dirs.has(dir)) continue;
      dirs.add(dir);
      tar.entry({ name: dir, type: 'directory', mode: 0o755, mtime, uid: 0, gid: 0 });
    }
    const content = files[path] as string | Uint8Array;
    tar.entry(
      { name: clean, type: 'file', mode: options.mode ?? 0o644, mtime, uid: 0, gid: 0 },
      Buffer.from(content),
    );
  }
  tar.finalize();
  return done;
}

/** A layer holding `files` (see {@link tarOf}), gzipped unless the media type says otherwise. */
export async function fileLayer(
  files: Readonly<Record<string, string | Uint8Array>>,
  options: FileLayerOptions = {},
): Promise<Layer> {
  const tar = await tarOf(files, options);
  const mediaType = options.mediaType ?? MediaType.ociLayerGzip;
  const plain = mediaType === MediaType.ociLayer || mediaType === MediaType.dockerLayer;
  const blob = plain ? tar : gzipSync(tar);
  const diffId = sha256Digest(tar);
  if (options.store) {
    const { digest, size } = await options.store.put(blob);
    return layerFromStore(options.store, {
      digest,
      diffId,
      size,
      mediaType,
      uncompressedSize: tar.byteLength,
    });
  }
  return layerFromBytes(blob, { mediaType, diffId, uncompressedSize: tar.byteLength });
}

export interface RandomLayerOptions {
  /** Number of files (default 1). */
  readonly files?: number;
  /** Total random bytes across the files (default 1024). */
  readonly bytes?: number;
  readonly mediaType?: string;
}

/** A layer of `files` files with `bytes` random bytes in all, in memory or in `store`. */
export function randomLayer(store?: BlobStore, options: RandomLayerOptions = {}): Promise<Layer> {
  const count = Math.max(1, options.files ?? 1);
  const total = options.bytes ?? 1024;
  const files: Record<string, Uint8Array> = {};
  const id = randomBytes(4).toString('hex');
  for (let i = 0; i < count; i++) {
    const size = Math.floor(total / count) + (i < total % count ? 1 : 0);
    files[`random-${id}/file-${i}`] = randomBytes(size);
  }
  return fileLayer(files, {
    ...(store ? { store } : {}),
    ...(options.mediaType ? { mediaType: options.mediaType } : {}),
  });
}

export interface RandomImageOptions extends RandomLayerOptions {
  readonly store?: BlobStore;
  readonly platform?: Platform;
}

/** Scratch plus `layers` random layers, each with a history entry. */
export async function randomImage(layers: number, options: RandomImageOptions = {}): Promise<Image> {
  const addenda = [];
  for (let i = 0; i < layers; i++) {
    addenda.push({
      layer: await randomLayer(options.store, options),
      history: { created: '2000-01-01T00:00:00Z', created_by: `random layer ${i + 1}` },
    });
  }
  return appendLayers(emptyImage(options.platform), ...addenda);
}
