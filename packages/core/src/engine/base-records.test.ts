import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Image } from '../image/index.js';
import { parsePlatform } from '../oci/index.js';
import { originOf } from '../registry/index.js';
import { withOrigin } from '../registry/pull.js';
import { openStore } from '../store/index.js';
import { randomImage } from '../testing/index.js';
import { cachedBase, recordBase } from './base-records.js';

const dir = mkdtempSync(join(tmpdir(), 'wharf-base-records-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const amd64 = parsePlatform('linux/amd64');

/** What a pull leaves: config and layer blobs in the store. */
async function pulled(name: string): Promise<{ store: Awaited<ReturnType<typeof openStore>>; image: Image }> {
  const store = await openStore({ root: join(dir, name) });
  const image = await randomImage(2, { store });
  await store.put(await image.rawConfig());
  for (const layer of await image.layers()) await store.put(await layer.compressed());
  return { store, image: withOrigin(image, { registry: 'registry.example', repository: 'team/base' }) };
}

describe('base records', () => {
  it('give back the image pulled for a tag and platform, from the store, with its digest and origin', async () => {
    const { store, image } = await pulled('roundtrip');
    expect(await cachedBase(store, 'registry.example/team/base:1', amd64)).toBeUndefined();
    await recordBase(store, 'registry.example/team/base:1', amd64, image);
    const cached = await cachedBase(store, 'registry.example/team/base:1', amd64);
    expect(cached).toBeDefined();
    expect(await cached?.digest()).toBe(await image.digest());
    expect(await cached?.config()).toEqual(await image.config());
    const [layer] = (await cached?.layers()) ?? [];
    expect(await layer?.diffId()).toBe(await (await image.layers())[0]?.diffId());
    expect(originOf(layer as never)).toEqual({ registry: 'registry.example', repository: 'team/base' });
    // another platform, another tag: not recorded
    expect(
      await cachedBase(store, 'registry.example/team/base:1', parsePlatform('linux/arm64')),
    ).toBeUndefined();
    expect(await cachedBase(store, 'registry.example/team/base:2', amd64)).toBeUndefined();
  });

  it('are keyed by the normalised reference: busybox, busybox:latest and docker.io/library/busybox agree', async () => {
    const { store, image } = await pulled('normalised');
    await recordBase(store, 'busybox', amd64, image);
    expect(await (await cachedBase(store, 'docker.io/library/busybox:latest', amd64))?.digest()).toBe(
      await image.digest(),
    );
  });

  it('are ignored when the store lost a blob (the caller pulls again)', async () => {
    const { store, image } = await pulled('lost');
    await recordBase(store, 'registry.example/team/base:1', amd64, image);
    const [, second] = await image.layers();
    await store.delete(await (second as NonNullable<typeof second>).digest());
    expect(await cachedBase(store, 'registry.example/team/base:1', amd64)).toBeUndefined();
  });
});
