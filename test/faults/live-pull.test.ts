// startPull's layers can be read while they download: a reader of a layer that is still coming in gets
// its bytes as they arrive (before the download finished), and exactly the blob's bytes, also when the
// response is cut mid-body and the download retried. The registry is the real one, behind the fault
// proxy throttling downloads (a slow downlink) and cutting responses.
import { createHash } from 'node:crypto';
import { openStore } from '@wharf/core/engine';
import * as oci from '@wharf/core/oci';
import { pushImage, type RegistryEvent, startPull } from '@wharf/core/registry';
import { randomImage } from '@wharf/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noDocker } from '../helpers/env.js';
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js';
import { tempDir } from '../helpers/paths.js';
import { type Registry, startRegistry } from '../helpers/registry.js';

const { MediaType } = oci;

const MB = 1024 * 1024;
const RETRY = { attempts: 10, baseDelayMs: 50, maxDelayMs: 1_000 };

describe.skipIf(noDocker())('startPull: reading a layer while it downloads', () => {
  let registry: Registry;
  let proxy: FaultProxy;
  beforeAll(async () => {
    registry = await startRegistry();
    proxy = await startFaultProxy({ upstream: registry.url, downloadBytesPerSecond: 8 * MB });
  });
  afterAll(async () => {
    await proxy?.stop();
    await registry?.stop();
  });

  /** Pulls `ref` through the proxy and reads its only layer at once: when its bytes came, and what. */
  async function pullAndRead(ref: string) {
    const events: { at: number; event: RegistryEvent }[] = [];
    const store = await openStore({ root: tempDir() });
    const pull = await startPull(`${proxy.host}/${ref}`, {
      store,
      retry: RETRY,
      onEvent: (event) => events.push({ at: performance.now(), event }),
    });
    const [layer] = await pull.image.layers();
    const descriptor = (await pull.image.manifest()).layers[0];
    const hash = createHash('sha256');
    let firstByteAt: number | undefined;
    let bytes = 0;
    for await (const chunk of await (layer as NonNullable<typeof layer>).compressed()) {
      firstByteAt ??= performance.now();
      hash.update(chunk as Buffer);
      bytes += (chunk as Buffer).byteLength;
    }
    const endAt = performance.now();
    await pull.layers;
    const fetchedAt = events.find(
      (e) => e.event.type === 'blob-fetched' && e.event.digest === descriptor?.digest,
    )?.at;
    return {
      digest: `sha256:${hash.digest('hex')}`,
      bytes,
      descriptor,
      firstByteAt: firstByteAt ?? Number.NaN,
      endAt,
      fetchedAt: fetchedAt ?? Number.NaN,
      events,
    };
  }

  it('gives the bytes as they arrive, and ends with the verified blob', async () => {
    const image = await randomImage(1, { bytes: 12 * MB, mediaType: MediaType.ociLayer });
    await pushImage(image, `${registry.host}/live/slow:1`, { retry: RETRY });
    const read = await pullAndRead('live/slow:1');
    expect(read.digest).toBe(read.descriptor?.digest);
    expect(read.bytes).toBe(read.descriptor?.size);
    // At 8 MB/s the download takes about 1.5 s; the first bytes came long before it was in.
    expect(read.fetchedAt - read.firstByteAt).toBeGreaterThan(500);
    expect(read.endAt).toBeGreaterThanOrEqual(read.fetchedAt); // the reader ended only after the store verified
  });

  it('gives exactly the right bytes when the response is cut mid-body and retried', async () => {
    const image = await randomImage(1, { bytes: 12 * MB, mediaType: MediaType.ociLayer });
    await pushImage(image, `${registry.host}/live/cut:1`, { retry: RETRY });
    const layer = (await image.manifest()).layers[0];
    let cut = 0;
    proxy.options.decide = ({ method, url }) =>
      method === 'GET' && layer && url.includes(`/blobs/${layer.digest}`) && cut++ < 2
        ? 'cut-response'
        : 'pass';
    try {
      const read = await pullAndRead('live/cut:1');
      expect(proxy.counts['cut-response']).toBeGreaterThanOrEqual(2);
      // The download started again from 0 after each cut (its progress went back).
      const progress = read.events.flatMap(({ event }) =>
        event.type === 'blob-progress' && event.digest === layer?.digest ? [event.bytes] : [],
      );
      expect(progress.filter((bytes, i) => i > 0 && bytes < (progress[i - 1] as number))).toHaveLength(2);
      expect(read.digest).toBe(layer?.digest);
      expect(read.bytes).toBe(layer?.size);
      expect(read.firstByteAt).toBeLessThan(read.fetchedAt);
      expect(read.endAt).toBeGreaterThanOrEqual(read.fetchedAt);
    } finally {
      proxy.options.decide = undefined;
    }
  });
});
