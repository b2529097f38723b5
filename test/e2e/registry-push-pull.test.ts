// The registry client against the real `docker-registry` on loopback: push what wharf builds and let
// docker and skopeo read it; pull what docker pushed; re-push, mounts, multi-platform, mirrors.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { openStore } from '@wharf/core/engine';
import type { Image } from '@wharf/core/image';
import * as images from '@wharf/core/image';
import * as oci from '@wharf/core/oci';
import { pullImage, pushImage, pushIndex, type RegistryEvent, remoteImage } from '@wharf/core/registry';
import { fileLayer, randomImage, randomLayer, validateImage } from '@wharf/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docker, dockerRun } from '../helpers/docker.js';
import { noDocker, testEnv } from '../helpers/env.js';
import { tempDir } from '../helpers/paths.js';
import { type Registry, startRegistry } from '../helpers/registry.js';
import { skopeoInspect } from '../helpers/tools.js';

const { appendLayers, buildIndex, indexFromManifest, withConfig } = images;
const { MediaType } = oci;
type Digest = oci.Digest;

/** A blob opener over the manifests, configs and layers of `images` (an in-memory "layout"). */
async function blobOpener(images: readonly Image[]): Promise<(d: { digest: string }) => Promise<Readable>> {
  const blobs = new Map<string, () => Promise<Readable>>();
  for (const image of images) {
    const raw = Buffer.from(await image.rawManifest());
    blobs.set(await image.digest(), async () => Readable.from([raw]));
    const config = Buffer.from(await image.rawConfig());
    blobs.set((await image.configDescriptor()).digest, async () => Readable.from([config]));
    for (const layer of await image.layers()) blobs.set(await layer.digest(), () => layer.compressed());
  }
  return async (d) => {
    const open = blobs.get(d.digest);
    if (!open) throw new Error(`no blob ${d.digest}`);
    return open();
  };
}

/** Counts requests by method from the client's debug lines. */
function requestCounter() {
  const counts: Record<string, number> = {};
  return {
    counts,
    debug: (line: string) => {
      const m = /^→ (\w+) /.exec(line);
      if (m?.[1]) counts[m[1]] = (counts[m[1]] ?? 0) + 1;
    },
  };
}

describe.skipIf(noDocker())('registry client: push and pull against docker-registry', () => {
  const env = testEnv();
  let registry: Registry;
  beforeAll(async () => {
    registry = await startRegistry();
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('pushes a random image (small and chunked layers); skopeo reads it; pulling it back gives the same digests', async () => {
    const store = await openStore({ root: tempDir() });
    const small = await randomImage(2, { bytes: 4096, store });
    const image = appendLayers(small, await randomLayer(store, { bytes: 12 * 1024 * 1024 }));
    const ref = `${registry.host}/wharf/random:v1`;
    const events: RegistryEvent[] = [];
    const result = await pushImage(image, [ref, `${registry.host}/wharf/random:v1-alias`], {
      chunkSize: 1024 * 1024,
      onEvent: (e) => events.push(e),
    });
    expect(result.digest).toBe(await image.digest());
    expect(result.stats.uploaded).toBe(4); // 3 layers + config
    expect(events.some((e) => e.type === 'blob-progress' && e.bytes < e.size)).toBe(true);

    const info = await skopeoInspect(`docker://${ref}`);
    expect(info.Digest).toBe(result.digest);
    expect(info.Layers).toEqual((await image.manifest()).layers.map((l) => l.digest));
    const alias = await skopeoInspect(`docker://${registry.host}/wharf/random:v1-alias`);
    expect(alias.Digest).toBe(result.digest);

    const into = await openStore({ root: tempDir() });
    const pulled = await pullImage(ref, { store: into });
    expect(pulled.digest).toBe(result.digest);
    expect(pulled.fetched).toBe(4);
    await validateImage(pulled.image);
    expect((await pulled.image.configDescriptor()).digest).toBe((await image.configDescriptor()).digest);
    const again = await pullImage(ref, { store: into });
    expect(again.fetched).toBe(0);
    expect(again.cached).toBe(4);
  });

  it('pushes an image built FROM busybox (pulled from the mirror); docker pulls and runs it', async () => {
    const base = remoteImage(`${env.mirror.host}/library/busybox:latest`);
    const image = withConfig(
      // The look-alike busybox is a Docker schema 2 image: keep the layer in the same family.
      appendLayers(
        base,
        await fileLayer({ 'hello.txt': 'hello from wharf\n' }, { mediaType: MediaType.dockerLayerGzip }),
      ),
      (c) => ({ ...c, Cmd: ['cat', '/hello.txt'] }),
    );
    const ref = `${registry.host}/wharf/hello:1.0`;
    const result = await pushImage(image, ref);
    expect(result.stats.uploaded).toBeGreaterThanOrEqual(2);
    await docker(['pull', ref]);
    try {
      expect(await dockerRun({ image: ref })).toBe('hello from wharf\n');
      const info = await skopeoInspect(`docker://${ref}`);
      expect(info.Digest).toBe(result.digest);
    } finally {
      await docker(['rmi', ref]).catch(() => {});
    }
  });

  it('pulls an image that docker pushed: config and layer digests match, and it works as a base', async () => {
    const ref = `${registry.host}/docker/busybox:pushed`;
    await docker(['tag', env.busybox.ref, ref]);
    await docker(['push', ref]);
    await docker(['rmi', ref]).catch(() => {});
    const raw = (await skopeoInspect(`docker://${ref}`, { raw: true })) as {
      mediaType: string;
      config: { digest: string };
      layers: { digest: string }[];
    };
    const store = await openStore({ root: tempDir() });
    const pulled = await pullImage(ref, { store });
    expect(await pulled.image.mediaType()).toBe(MediaType.dockerManifest);
    expect((await pulled.image.configDescriptor()).digest).toBe(raw.config.digest);
    expect((await pulled.image.manifest()).layers.map((l) => l.digest)).toEqual(
      raw.layers.map((l) => l.digest),
    );
    for (const layer of raw.layers) expect(await store.has(layer.digest as Digest)).toBe(true);
    await validateImage(pulled.image);

    // As a base: add a layer, push to another repository of the same registry: the base layer is mounted.
    const events: RegistryEvent[] = [];
    const derived = appendLayers(pulled.image, await fileLayer({ 'etc/derived': 'yes\n' }));
    const result = await pushImage(derived, `${registry.host}/wharf/derived:1`, {
      onEvent: (e) => events.push(e),
    });
    expect(result.stats.mounted).toBe(raw.layers.length);
    expect(
      events.filter((e) => e.type === 'blob-mounted').map((e) => (e as { from: string }).from),
    ).toContain('docker/busybox');
  });

  it('re-pushing an unchanged image uploads nothing and takes under 0.5 s', async () => {
    const image = await randomImage(3, { bytes: 64 * 1024 });
    const ref = `${registry.host}/wharf/repush:latest`;
    await pushImage(image, ref);
    const counter = requestCounter();
    const started = performance.now();
    const again = await pushImage(image, ref, { debug: counter.debug });
    const ms = performance.now() - started;
    expect(again.stats.uploaded).toBe(0);
    expect(counter.counts.POST ?? 0).toBe(0);
    expect(counter.counts.PATCH ?? 0).toBe(0);
    expect(counter.counts.PUT ?? 0).toBe(0);
    expect(ms).toBeLessThan(500);
    // A second tag for the same image: one manifest PUT, no blob uploads.
    const counter2 = requestCounter();
    const tagged = await pushImage(image, [ref, `${registry.host}/wharf/repush:v2`], {
      debug: counter2.debug,
    });
    expect(tagged.stats.uploaded).toBe(0);
    expect(counter2.counts.PUT).toBe(1);
    expect(counter2.counts.POST ?? 0).toBe(0);
  });

  it('pushes a multi-platform index; skopeo picks each platform', async () => {
    const amd = await randomImage(1, { platform: { os: 'linux', architecture: 'amd64' } });
    const arm = await randomImage(1, { platform: { os: 'linux', architecture: 'arm64' } });
    const { bytes } = await buildIndex([{ image: amd }, { image: arm }]);
    const index = indexFromManifest({ rawManifest: bytes, blob: await blobOpener([amd, arm]) });
    const ref = `${registry.host}/wharf/multi:latest`;
    const result = await pushIndex(index, ref);
    const raw = (await skopeoInspect(`docker://${ref}`, { raw: true })) as {
      mediaType: string;
      manifests: unknown[];
    };
    expect(raw.mediaType).toBe(MediaType.ociIndex);
    expect(raw.manifests).toHaveLength(2);
    expect(result.digest).toBe(await index.digest());
    const store = await openStore({ root: tempDir() });
    const armPulled = await pullImage(ref, { store, platform: 'linux/arm64' });
    expect(armPulled.digest).toBe(await arm.digest());
    expect(armPulled.rootDigest).toBe(result.digest);
    // a second repository of the same registry gets every blob by cross-repository mount (as pushImage does)
    const twice = await pushIndex(index, [
      `${registry.host}/wharf/multi-a:1`,
      `${registry.host}/wharf/multi-b:1`,
    ]);
    expect(twice.stats).toMatchObject({ uploaded: 4, mounted: 4 });
  });

  it('pulls docker.io names through a mirror, skipping a dead mirror first', async () => {
    const events: RegistryEvent[] = [];
    const store = await openStore({ root: tempDir() });
    const pulled = await pullImage('busybox:latest', {
      store,
      mirrors: ['http://127.0.0.1:1', env.mirror.url],
      retry: { attempts: 1 },
      onEvent: (e) => events.push(e),
    });
    expect(pulled.reference.toString()).toBe('docker.io/library/busybox:latest');
    expect(events.some((e) => e.type === 'mirror-fallback' && e.mirror === 'http://127.0.0.1:1')).toBe(true);
    await validateImage(pulled.image);
    // The config file entry works too.
    const dir = tempDir();
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ registryMirrors: [env.mirror.url] }));
    const viaFile = await pullImage('busybox', {
      store,
      env: { ...process.env, WHARF_CONFIG: join(dir, 'config.json'), WHARF_REGISTRY_MIRROR: '' },
    });
    expect(viaFile.digest).toBe(pulled.digest);
  });
});
