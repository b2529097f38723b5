// LiveDownload driven the way pull.ts drives it: chunks of attempts (restarting at 0) go to followers
// and into a real blob store, which verifies and commits; then complete() or fail().
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { sha256Digest } from '../oci/index.js';
import { type BlobStore, openStore } from '../store/index.js';
import { LiveDownload, type LiveDownloadOptions } from './live-download.js';

const scratch = mkdtempSync(join(tmpdir(), 'wharf-live-download-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let stores = 0;

const KiB = 1024;

/** A blob, a store, and a LiveDownload of the blob into the store. */
async function setup(bytes: number, options: Partial<LiveDownloadOptions> = {}) {
  const blob = randomBytes(bytes);
  const digest = sha256Digest(blob);
  const store: BlobStore = await openStore({ root: join(scratch, String(stores++)) });
  const live = new LiveDownload({ digest, openStored: () => store.open(digest), ...options });
  /** One attempt: `blob[0, upTo)` (or `content`) in `chunk`-byte pieces; commits when it is whole. */
  const attempt = async (upTo: number, chunk: number, content: Buffer = blob) => {
    const writer = store.putWriter({ expected: digest, size: blob.byteLength });
    for (let at = 0; at < upTo; at += chunk) {
      const piece = content.subarray(at, Math.min(upTo, at + chunk));
      writer.write(piece);
      await live.write(piece, at);
    }
    if (upTo < blob.byteLength) {
      await writer.abort();
      return false;
    }
    await writer.commit();
    return true;
  };
  return { blob, digest, store, live, attempt };
}

/** Everything `stream` yields, with the order of chunk arrivals noted in `log`. */
async function collect(stream: Readable, log?: string[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    chunks.push(chunk as Buffer);
    log?.push('chunk');
  }
  log?.push('end');
  return Buffer.concat(chunks);
}

describe('LiveDownload', () => {
  it('delivers in order, without duplicates across a retried attempt, and ends only after commit', async () => {
    const { blob, live, attempt } = await setup(300 * KiB);
    const follower = live.follow();
    expect(follower).toBeDefined();
    const log: string[] = [];
    const read = collect(follower as Readable, log);
    expect(await attempt(170 * KiB, 16 * KiB)).toBe(false); // cut mid-body
    expect(await attempt(blob.byteLength, 7 * KiB)).toBe(true); // retried from 0, other chunking
    await new Promise((r) => setImmediate(r));
    expect(log).not.toContain('end'); // committed, but not told yet
    log.push('complete');
    live.complete(blob.byteLength);
    const got = await read;
    expect(got.equals(blob)).toBe(true);
    expect(log.indexOf('end')).toBeGreaterThan(log.indexOf('complete'));
  });

  it('hands the small network chunks on in blocks of the high-water mark', async () => {
    const { blob, live, attempt } = await setup(1000 * KiB, { highWaterMark: 256 * KiB });
    const follower = live.follow() as Readable;
    const sizes: number[] = [];
    follower.on('data', (chunk: Buffer) => sizes.push(chunk.byteLength)); // each push is one 'data'
    const ended = new Promise((r) => follower.on('end', r));
    expect(await attempt(blob.byteLength, 16 * KiB)).toBe(true);
    live.complete(blob.byteLength);
    await ended;
    expect(sizes).toEqual([256 * KiB, 256 * KiB, 256 * KiB, 232 * KiB]);
  });

  it('fails followers with the download error', async () => {
    const { live, attempt } = await setup(100 * KiB);
    const follower = live.follow() as Readable;
    const read = collect(follower);
    await attempt(50 * KiB, 8 * KiB);
    const error = new Error('registry went away');
    live.fail(error);
    await expect(read).rejects.toBe(error);
    expect(live.follow()).toBeUndefined();
  });

  it('raises a failure on a follower nobody reads yet only when it is read', async () => {
    const { live, attempt } = await setup(100 * KiB);
    const follower = live.follow() as Readable;
    await attempt(50 * KiB, 8 * KiB);
    const error = new Error('registry went away');
    live.fail(error); // no 'error' listener yet: this must not be an uncaught exception
    await new Promise((r) => setTimeout(r, 10));
    expect(follower.destroyed).toBe(false);
    await expect(collect(follower)).rejects.toBe(error);
  });

  it('fails a follower given bytes of an attempt that the verified attempt contradicts', async () => {
    const { blob, live, attempt } = await setup(64 * KiB);
    const read = collect(live.follow() as Readable);
    const corrupt = Buffer.from(blob);
    corrupt[10] = (corrupt[10] as number) ^ 0xff;
    await attempt(32 * KiB, 4 * KiB, corrupt); // corrupt, then cut
    expect(await attempt(blob.byteLength, 4 * KiB)).toBe(true); // the store verified this one
    live.complete(blob.byteLength);
    await expect(read).rejects.toMatchObject({ code: 'REGISTRY_DIGEST_MISMATCH' });
  });

  it('gives a late follower the replay prefix, then live chunks', async () => {
    const { blob, digest, store, live } = await setup(512 * KiB, { replayLimit: 1024 * KiB });
    const writer = store.putWriter({ expected: digest, size: blob.byteLength });
    const feed = async (from: number, to: number) => {
      for (let at = from; at < to; at += 32 * KiB) {
        const piece = blob.subarray(at, Math.min(to, at + 32 * KiB));
        writer.write(piece);
        await live.write(piece, at);
      }
    };
    const early = collect(live.follow() as Readable);
    await feed(0, 256 * KiB);
    const late = live.follow() as Readable; // half-way through: it starts at 0, from the prefix
    const lateRead = collect(late);
    await feed(256 * KiB, blob.byteLength);
    await writer.commit();
    live.complete(blob.byteLength);
    expect((await early).equals(blob)).toBe(true);
    expect((await lateRead).equals(blob)).toBe(true);
  });

  it('has no follower for a reader that comes after the prefix was dropped: it reads the store', async () => {
    const { blob, live, attempt, store, digest } = await setup(256 * KiB, { replayLimit: 64 * KiB });
    await attempt(128 * KiB, 16 * KiB); // past the replay limit, then cut
    expect(live.follow()).toBeUndefined();
    expect(await attempt(blob.byteLength, 16 * KiB)).toBe(true);
    live.complete(blob.byteLength);
    expect(live.follow()).toBeUndefined(); // after the end too: the store has it
    expect((await collect(await store.open(digest))).equals(blob)).toBe(true);
  });

  it('detaches a follower that does not read, which then goes on from the store', async () => {
    const { blob, live, attempt } = await setup(2048 * KiB, { highWaterMark: 64 * KiB, stallMs: 100 });
    const stalled = live.follow() as Readable;
    const started = performance.now();
    expect(await attempt(blob.byteLength, 32 * KiB)).toBe(true); // not held for ever by the stalled reader
    const took = performance.now() - started;
    expect(took).toBeLessThan(1_500);
    live.complete(blob.byteLength);
    // It had a buffer's worth before it stalled; the rest comes from the stored blob at that offset.
    expect((await collect(stalled)).equals(blob)).toBe(true);
  });

  it('holds the download while a follower reads slowly, and it gets everything live', async () => {
    const { blob, live, attempt } = await setup(1024 * KiB, { highWaterMark: 64 * KiB, stallMs: 1_000 });
    const follower = live.follow() as Readable;
    let read = 0;
    const chunks: Buffer[] = [];
    const reading = (async () => {
      for await (const chunk of follower) {
        chunks.push(chunk as Buffer);
        read += (chunk as Buffer).byteLength;
        await new Promise((r) => setTimeout(r, 1));
      }
    })();
    expect(await attempt(blob.byteLength, 32 * KiB)).toBe(true);
    // Backpressure: the download could not run more than a buffer (plus a chunk) ahead of the reader.
    expect(blob.byteLength - read).toBeLessThanOrEqual(64 * KiB + 64 * KiB);
    live.complete(blob.byteLength);
    await reading;
    expect(Buffer.concat(chunks).equals(blob)).toBe(true);
  });

  it('drops a destroyed follower without stalling the download', async () => {
    const { blob, live, attempt } = await setup(1024 * KiB, { highWaterMark: 16 * KiB, stallMs: 10_000 });
    const quitter = live.follow() as Readable;
    const other = collect(live.follow() as Readable);
    const writing = attempt(blob.byteLength, 16 * KiB);
    await new Promise((r) => setTimeout(r, 20));
    quitter.destroy(); // the reader stopped early
    const started = performance.now();
    expect(await writing).toBe(true);
    expect(performance.now() - started).toBeLessThan(2_000);
    live.complete(blob.byteLength);
    expect((await other).equals(blob)).toBe(true);
  });

  it('a follower of a download that found the blob already stored reads it from the store', async () => {
    const { blob, live, store } = await setup(100 * KiB);
    const read = collect(live.follow() as Readable);
    await store.put(blob);
    live.complete(blob.byteLength); // no byte came through the download
    expect((await read).equals(blob)).toBe(true);
  });
});
