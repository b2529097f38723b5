// Streaming, measured: archives of a 200 MB layer are written with little memory (RSS growth < 60 MB).
import { createCipheriv } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendLayers, emptyImage, layerFromOpener } from '../image/index.js';
import { MediaType } from '../oci/index.js';
import { collectGarbage, rssGrowth } from '../testing/memory.js';
import { writeDockerArchive } from './docker-archive.js';
import { writeOciArchive } from './oci-archive.js';

const SIZE = 200 * 1024 * 1024;
const CHUNK = 64 * 1024;
/** The sources sample RSS and force a full GC every this many bytes (testing/memory.ts says why). */
const COLLECT_EVERY = 8 * 1024 * 1024;
const scratch = mkdtempSync(join(tmpdir(), 'wharf-archive-memory-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** 200 MB of deterministic, incompressible bytes (AES-CTR of zeros), generated as they are read. */
function noise(): Readable {
  const cipher = createCipheriv('aes-128-ctr', Buffer.alloc(16, 7), Buffer.alloc(16, 0));
  const zeros = Buffer.alloc(CHUNK);
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= SIZE) {
        this.push(null);
        return;
      }
      if (sent % COLLECT_EVERY === 0) collectGarbage();
      sent += CHUNK;
      this.push(cipher.update(zeros));
    },
  });
}

function zeros(): Readable {
  const chunk = Buffer.alloc(CHUNK);
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= SIZE) {
        this.push(null);
        return;
      }
      if (sent % COLLECT_EVERY === 0) collectGarbage();
      sent += CHUNK;
      this.push(chunk);
    },
  });
}

/** Peak RSS growth (MB) while `work` runs. */
const peakGrowth = async (work: () => Promise<void>) => (await rssGrowth(work)) / (1024 * 1024);

describe('archives stream', () => {
  beforeAll(async () => {
    // Warm up (module loading, JIT, thread pool) so the measurement is about the layer's size.
    const small = appendLayers(
      emptyImage(),
      layerFromOpener(async () => Readable.from([Buffer.alloc(CHUNK)]), { mediaType: MediaType.ociLayer }),
    );
    await writeOciArchive(join(scratch, 'warm.tar'), small);
    await writeDockerArchive(join(scratch, 'warm-d.tar'), small);
  });

  it('a 200 MB uncompressed layer: oci-archive and docker-archive', async () => {
    const layer = layerFromOpener(async () => noise(), { mediaType: MediaType.ociLayer });
    const image = appendLayers(emptyImage(), layer);
    const oci = join(scratch, 'oci.tar');
    const docker = join(scratch, 'docker.tar');
    const started = Date.now();
    const growth = await peakGrowth(async () => {
      await writeOciArchive(oci, { image, names: ['big'] });
      await writeDockerArchive(docker, { image, names: ['big'] });
    });
    console.log(
      `200 MB uncompressed layer → 2 archives: RSS +${growth.toFixed(1)} MB, ${Date.now() - started} ms`,
    );
    expect(statSync(oci).size).toBeGreaterThan(SIZE);
    expect(statSync(docker).size).toBeGreaterThan(SIZE);
    expect(growth).toBeLessThan(60);
  }, 120_000);

  it('a gzip layer of 200 MB of tar: decompressed twice (count, then stream) for docker-archive', async () => {
    const layer = layerFromOpener(async () => zeros().pipe(createGzip()));
    const image = appendLayers(emptyImage(), layer);
    const docker = join(scratch, 'docker-gz.tar');
    const started = Date.now();
    const growth = await peakGrowth(async () => {
      await writeDockerArchive(docker, { image, names: ['big'] });
    });
    console.log(
      `200 MB gzip layer → docker-archive: RSS +${growth.toFixed(1)} MB, ${Date.now() - started} ms`,
    );
    expect(statSync(docker).size).toBeGreaterThan(SIZE);
    expect(growth).toBeLessThan(60);
  }, 120_000);
});
