// Pushes and pulls through a proxy that drops connections mid-body, answers 500/503/429 (Retry-After),
// stalls and cuts responses: they complete with the right digests. Corrupt blobs are rejected and not
// stored. Sizes: WHARF_FAULT_PUSH_MB (default 300, as the issue asks) spread over 3 layers.

import { openStore } from '@wharf/core/engine';
import * as oci from '@wharf/core/oci';
import {
  pullImage,
  pushImage,
  type RegistryError,
  type RegistryEvent,
  startPull,
} from '@wharf/core/registry';
import { randomImage, validateImage } from '@wharf/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noDocker } from '../helpers/env.js';
import { type Fault, type FaultProxy, seededRandom, startFaultProxy } from '../helpers/fault-proxy.js';
import { tempDir } from '../helpers/paths.js';
import { type Registry, startRegistry } from '../helpers/registry.js';
import { skopeoInspect } from '../helpers/tools.js';

const { MediaType } = oci;

const MB = 1024 * 1024;
const TOTAL_MB = Number(process.env.WHARF_FAULT_PUSH_MB || 300);
const RETRY = { attempts: 10, baseDelayMs: 50, maxDelayMs: 1_000 };

describe.skipIf(noDocker())('registry client under faults', () => {
  let registry: Registry;
  let proxy: FaultProxy;
  beforeAll(async () => {
    registry = await startRegistry();
    proxy = await startFaultProxy({ upstream: registry.url, stallMs: 3_000, retryAfterS: 1 });
  });
  afterAll(async () => {
    await proxy?.stop();
    await registry?.stop();
  });

  it(`pushes ${TOTAL_MB} MB through drops, 500/503/429 and stalls, and pulls it back through cut responses`, async () => {
    const store = await openStore({ root: tempDir() });
    const image = await randomImage(3, {
      bytes: Math.floor((TOTAL_MB * MB) / 3),
      store,
      mediaType: MediaType.ociLayer,
    });
    // Every kind of fault early on (deterministic), then random ones (seeded).
    const scripted: Record<number, Fault> = {
      1: 'drop-request',
      2: 'status-503',
      3: 'status-429',
      4: 'stall',
      5: 'status-500',
      6: 'cut-upstream',
    };
    const random = seededRandom(4);
    let uploads = 0;
    proxy.options.decide = ({ method, length }) => {
      const r = random();
      if ((method === 'PATCH' || method === 'PUT') && length > 0) {
        const fault = scripted[++uploads];
        if (fault) return fault;
        return r < 0.08
          ? 'drop-request'
          : r < 0.12
            ? 'status-503'
            : r < 0.14
              ? 'status-429'
              : r < 0.16
                ? 'status-500'
                : 'pass';
      }
      return r < 0.05 ? 'status-503' : r < 0.07 ? 'status-500' : r < 0.08 ? 'status-429' : 'pass';
    };
    const events: RegistryEvent[] = [];
    const ref = `${proxy.host}/faults/app:1`;
    const started = performance.now();
    const result = await pushImage(image, ref, {
      chunkSize: 4 * MB,
      retry: RETRY,
      timeoutMs: 1_500,
      onEvent: (e) => events.push(e),
    });
    const pushMs = performance.now() - started;
    expect(result.digest).toBe(await image.digest());
    for (const fault of [
      'drop-request',
      'status-503',
      'status-429',
      'stall',
      'status-500',
      'cut-upstream',
    ] as const) {
      expect(proxy.counts[fault], fault).toBeGreaterThan(0);
    }
    const retries = events.filter((e) => e.type === 'retry');
    expect(retries.length).toBeGreaterThan(0);
    // Retry-After: 1 was honoured.
    expect(retries.some((e) => e.type === 'retry' && /429/.test(e.reason) && e.delayMs >= 1_000)).toBe(true);
    const info = await skopeoInspect(`docker://${registry.host}/faults/app:1`);
    expect(info.Digest).toBe(result.digest);
    expect(info.Layers).toEqual((await image.manifest()).layers.map((l) => l.digest));

    // Pull back through the proxy while it cuts blob responses in half.
    const cuts = seededRandom(9);
    proxy.options.decide = ({ method, url }) =>
      method === 'GET' && url.includes('/blobs/') && cuts() < 0.5 ? 'cut-response' : 'pass';
    const into = await openStore({ root: tempDir() });
    const pulled = await pullImage(ref, { store: into, retry: RETRY, timeoutMs: 1_500 });
    expect(pulled.digest).toBe(result.digest);
    await validateImage(pulled.image);
    expect(proxy.counts['cut-response']).toBeGreaterThan(0);
    console.log(
      `[faults] pushed ${TOTAL_MB} MB in ${Math.round(pushMs)} ms through ${Object.entries(proxy.counts)
        .filter(([k, v]) => k !== 'pass' && v > 0)
        .map(([k, v]) => `${v}×${k}`)
        .join(', ')}; ${retries.length} retries`,
    );
    proxy.options.decide = undefined;
  });

  it('rejects a blob whose bytes do not match its digest, and stores nothing', async () => {
    const image = await randomImage(1, { bytes: 256 * 1024 });
    const ref = `${proxy.host}/faults/corrupt:1`;
    await pushImage(image, ref, { retry: RETRY });
    const layer = (await image.manifest()).layers[0];
    proxy.options.decide = ({ method, url }) =>
      method === 'GET' && layer && url.includes(`/blobs/${layer.digest}`) ? 'corrupt-response' : 'pass';
    const store = await openStore({ root: tempDir() });
    let error: RegistryError | undefined;
    try {
      await pullImage(ref, { store, retry: RETRY });
    } catch (e) {
      error = e as RegistryError;
    }
    proxy.options.decide = undefined;
    expect(error?.code).toBe('REGISTRY_DIGEST_MISMATCH');
    expect(error?.message).toContain('faults/corrupt');
    expect(await store.has(layer?.digest as never)).toBe(false);
    expect((await store.list()).filter((d) => d === layer?.digest)).toEqual([]);
  });

  it('startPull: a layer downloading in the background that turns out corrupt fails its read, once', async () => {
    const image = await randomImage(1, { bytes: 256 * 1024 });
    const ref = `${proxy.host}/faults/corrupt-background:1`;
    await pushImage(image, ref, { retry: RETRY });
    const layer = (await image.manifest()).layers[0];
    let gets = 0;
    proxy.options.decide = ({ method, url }) => {
      if (method !== 'GET' || !layer || !url.includes(`/blobs/${layer.digest}`)) return 'pass';
      gets++;
      return 'corrupt-response';
    };
    try {
      const store = await openStore({ root: tempDir() });
      const pull = await startPull(ref, { store, retry: RETRY });
      expect((await pull.image.config()).rootfs.diff_ids).toHaveLength(1); // the config is in already
      const [pulled] = await pull.image.layers();
      // The read follows the download as it arrives; its stream fails with the download.
      const read = pulled?.compressed().then(async (stream) => {
        for await (const _ of stream);
      });
      await expect(pull.layers).rejects.toMatchObject({ code: 'REGISTRY_DIGEST_MISMATCH' });
      await expect(read).rejects.toMatchObject({ code: 'REGISTRY_DIGEST_MISMATCH' });
      expect(gets).toBe(1); // the read failed with the background download, it did not start another
      expect(await store.has(layer?.digest as never)).toBe(false);
    } finally {
      proxy.options.decide = undefined;
    }
  });

  it('a commit that took effect but whose answer was lost is not an error, chunked or whole', async () => {
    // The registry committed the blob; the client only sees a dead connection. A retried PUT then
    // finds no upload session (404), or races the first one's cleanup (DIGEST_INVALID).
    const image = await randomImage(2, { bytes: 6 * MB, mediaType: MediaType.ociLayer });
    const ref = `${proxy.host}/faults/lost-commit:1`;
    const lost: string[] = [];
    proxy.options.decide = ({ method, url }) => {
      if (method !== 'PUT' || !url.includes('digest=')) return 'pass';
      const digest = decodeURIComponent(url.split('digest=')[1]?.split('&')[0] ?? '');
      if (lost.includes(digest)) return 'pass';
      lost.push(digest);
      return 'lose-response';
    };
    const events: RegistryEvent[] = [];
    try {
      // 4 MB chunks: the 6 MB layers go in chunks, the config in one PUT.
      const result = await pushImage(image, ref, {
        chunkSize: 4 * MB,
        retry: RETRY,
        onEvent: (e) => events.push(e),
      });
      expect(result.digest).toBe(await image.digest());
    } finally {
      proxy.options.decide = undefined;
    }
    expect(lost).toHaveLength(3);
    expect(events.filter((e) => e.type === 'warning')).toEqual([]);
    const info = await skopeoInspect(`docker://${registry.host}/faults/lost-commit:1`);
    expect(info.Layers).toEqual((await image.manifest()).layers.map((l) => l.digest));
  });

  it('gives up after the attempts with REGISTRY_UNAVAILABLE naming registry, repository and operation', async () => {
    proxy.options.decide = () => 'status-503';
    const image = await randomImage(1, { bytes: 100 });
    let error: RegistryError | undefined;
    try {
      await pushImage(image, `${proxy.host}/faults/down:1`, {
        retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 20 },
      });
    } catch (e) {
      error = e as RegistryError;
    }
    proxy.options.decide = undefined;
    expect(error?.code).toBe('REGISTRY_UNAVAILABLE');
    expect(error?.retryable).toBe(true);
    expect(error?.message).toContain(proxy.host);
    expect(error?.message).toContain('faults/down');
    expect(error?.message).toMatch(/HTTP 503/);
  });
});
