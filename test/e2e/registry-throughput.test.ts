// Push throughput to the loopback registry, side by side with `skopeo copy` of the same image from an
// OCI layout. WHARF_THROUGHPUT_MB (default 64) sets the image size, over 4 gzip layers (random bytes, so
// gzip does not shrink them; skopeo would compress uncompressed layers and time that too).

import { openStore } from '@wharf/core/engine';
import * as layout from '@wharf/core/layout';
import { pushImage } from '@wharf/core/registry';
import { randomImage } from '@wharf/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noDocker } from '../helpers/env.js';
import { tempDir } from '../helpers/paths.js';
import { type Registry, startRegistry } from '../helpers/registry.js';
import { skopeoCopy, skopeoInspect } from '../helpers/tools.js';

const { writeLayout } = layout;

const MB = 1024 * 1024;
const SIZE_MB = Number(process.env.WHARF_THROUGHPUT_MB || 64);

describe.skipIf(noDocker())('registry push throughput', () => {
  let registry: Registry;
  beforeAll(async () => {
    registry = await startRegistry();
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it(`pushes a ${SIZE_MB} MB image and reports MB/s next to skopeo copy`, async () => {
    const store = await openStore({ root: tempDir() });
    const image = await randomImage(4, {
      bytes: Math.floor((SIZE_MB * MB) / 4),
      store,
    });
    const total = (await image.manifest()).layers.reduce((n, l) => n + l.size, 0);

    let started = performance.now();
    const result = await pushImage(image, `${registry.host}/bench/wharf:1`);
    const wharfMs = performance.now() - started;
    expect(result.stats.uploaded).toBe(5);

    const layout = tempDir();
    await writeLayout(layout, { image, names: ['bench:1'] });
    started = performance.now();
    await skopeoCopy(`oci:${layout}:1`, `docker://${registry.host}/bench/skopeo:1`);
    const skopeoMs = performance.now() - started;
    // skopeo re-encodes the manifest, so compare layers rather than manifest digests.
    const copied = await skopeoInspect(`docker://${registry.host}/bench/skopeo:1`);
    expect(copied.Layers).toEqual((await image.manifest()).layers.map((l) => l.digest));

    const rate = (ms: number) => ((total / MB / ms) * 1000).toFixed(0);
    console.log(
      `[throughput] ${(total / MB).toFixed(0)} MB, 4 layers: wharf push ${Math.round(wharfMs)} ms (${rate(wharfMs)} MB/s); ` +
        `skopeo copy ${Math.round(skopeoMs)} ms (${rate(skopeoMs)} MB/s)`,
    );
  });
});
