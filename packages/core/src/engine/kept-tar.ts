/**
 * The tars of compressed base layers, kept: the first time a pulled layer is read uncompressed (for its
 * view, to extract it for a RUN, or for a docker-archive), the tar is written to the store as it streams
 * by, as a blob whose digest is the diffID. Later reads open that blob instead of gunzipping again — what
 * Docker's image store does by keeping layers unpacked. A read that stops early, or a tar that does not
 * hash to the diffID, keeps nothing; keeping never fails or delays a read.
 */
import { pipeline, type Readable, Transform } from 'node:stream';
import type { Layer } from '../image/types.js';
import type { Digest } from '../oci/index.js';
import type { BlobStore } from '../store/store.js';

/**
 * Commits of kept tars under way, by store root and diffID. A read that comes right after the first one
 * (a RUN's extraction after the base view) waits for the commit instead of gunzipping and writing the
 * tar again. Only commits are waited for, never another reader's stream, so nothing can deadlock.
 */
const committing = new Map<string, Promise<void>>();

/** The layers {@link keepTar} wrapped, and how to read each without keeping: {@link readTarOnce}. */
const unkept = new WeakMap<Layer, () => Promise<Readable>>();

/**
 * The tar of `layer`, for a read that makes everything later reads would need (a one-pass base
 * unpack: the view and the extracted layer): the kept blob when there is one, else the layer's own
 * stream without writing the tar to the store — nothing reads it back after that pass.
 */
export function readTarOnce(layer: Layer): Promise<Readable> {
  return (unkept.get(layer) ?? (() => layer.uncompressed()))();
}

/** `layer`, with its tar kept in `store` after the first full read (a no-op for uncompressed layers). */
export function keepTar(store: BlobStore, layer: Layer): Layer {
  /** The diffID when the layer is compressed (so its tar is worth keeping), else undefined. */
  const compressedDiffId = async () => {
    const diffId = await layer.diffId();
    return (await layer.digest()) === diffId ? undefined : diffId;
  };
  const isKept = async (diffId: Digest) => {
    await committing.get(`${store.root}\0${diffId}`);
    return store.has(diffId);
  };
  const kept: Layer = {
    digest: () => layer.digest(),
    diffId: () => layer.diffId(),
    size: () => layer.size(),
    mediaType: () => layer.mediaType(),
    compressed: () => layer.compressed(),
    uncompressed: async () => {
      const diffId = await compressedDiffId();
      if (!diffId) return layer.uncompressed();
      if (await isKept(diffId)) return store.open(diffId);
      const tee = teeInto(store, diffId);
      // pipeline, not pipe: a reader that stops early destroys the tee, and that closes the source too
      pipeline(await layer.uncompressed(), tee, () => {});
      return tee;
    },
    uncompressedSize: async () => {
      const diffId = await compressedDiffId();
      if (diffId && (await isKept(diffId))) return store.size(diffId);
      if (layer.uncompressedSize) return layer.uncompressedSize();
      let size = 0;
      for await (const chunk of await layer.uncompressed()) size += (chunk as Buffer).byteLength;
      return size;
    },
  };
  unkept.set(kept, async () => {
    const diffId = await compressedDiffId();
    return diffId && (await isKept(diffId)) ? store.open(diffId) : layer.uncompressed();
  });
  return kept;
}

/** Passes the tar through, writing it to the store too; committed (checked against `diffId`) at the end. */
function teeInto(store: BlobStore, diffId: Digest): Transform {
  const writer = store.putWriter({ expected: diffId });
  let failed = false;
  let ended = false;
  const keep = (chunk: Buffer, done: () => void) => {
    if (failed || writer.write(chunk)) done();
    else writer.once('drain', done);
  };
  writer.on('error', () => {
    failed = true; // keeping is best effort: the reader still gets the tar
  });
  return new Transform({
    readableHighWaterMark: 1024 * 1024,
    writableHighWaterMark: 1024 * 1024,
    transform(chunk: Buffer, _encoding, callback) {
      keep(chunk, () => callback(null, chunk));
    },
    flush(callback) {
      // The reader is done: committing (hash check, fsync, rename) finishes in the background. A tar
      // that is not the diffID is not kept; readers that depend on the diffID (extraction, archives)
      // check it themselves.
      ended = true;
      if (failed) void writer.abort();
      else {
        const key = `${store.root}\0${diffId}`;
        const done = writer.commit().then(
          () => {},
          () => {},
        );
        committing.set(key, done);
        void done.then(() => {
          if (committing.get(key) === done) committing.delete(key);
        });
      }
      callback();
    },
    destroy(error, callback) {
      // After the end, destroy is the stream's own clean-up: the commit above must not be aborted.
      if (ended) callback(error);
      else void writer.abort().finally(() => callback(error));
    },
  });
}
