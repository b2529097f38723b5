// Kill-and-resume: a push of a large blob is SIGKILLed in the middle; the next push finds the saved
// upload session, asks the registry for its Range, and sends only the rest.
//
// The registry sits behind the fault proxy in pass-through mode, which buffers request bodies the way
// nginx does by default (and throttles to a slow uplink, so the kill lands inside a chunk). That matters
// for distribution: it keeps part of a chunk whose sender died and then cancels the session, because
// the session's signed `_state` offset no longer matches its file (`upload resumed at wrong offset`).
// Behind a buffering proxy a dead client's partial chunk never reaches the registry. Without one, the
// second push notices the cancelled session and starts that blob from byte 0 (tested in registry-faults).
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { openStore } from '@wharf/core/engine';
import * as layout from '@wharf/core/layout';
import * as oci from '@wharf/core/oci';
import { fileUploadSessions, pushImage, type RegistryEvent } from '@wharf/core/registry';
import { randomImage } from '@wharf/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noDocker } from '../helpers/env.js';
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js';
import { tempDir } from '../helpers/paths.js';
import { type Registry, startRegistry } from '../helpers/registry.js';
import { skopeoInspect } from '../helpers/tools.js';

const { readLayout, writeLayout } = layout;
const { MediaType } = oci;

const MB = 1024 * 1024;
const BLOB_MB = Number(process.env.WHARF_RESUME_MB || 300);
const CHUNK = 8 * MB;

describe.skipIf(noDocker())('kill-and-resume push', () => {
  let registry: Registry;
  let proxy: FaultProxy;
  beforeAll(async () => {
    registry = await startRegistry();
    proxy = await startFaultProxy({ upstream: registry.url, uploadBytesPerSecond: 48 * MB });
  });
  afterAll(async () => {
    await proxy?.stop();
    await registry?.stop();
  });

  it(`continues a ${BLOB_MB} MB blob from the registry's offset after SIGKILL`, async () => {
    const store = await openStore({ root: tempDir() });
    const image = await randomImage(1, { bytes: BLOB_MB * MB, store, mediaType: MediaType.ociLayer });
    const layoutDir = tempDir();
    await writeLayout(layoutDir, image);
    const layer = (await image.manifest()).layers[0];
    if (!layer) throw new Error('no layer');
    const ref = `${proxy.host}/resume/big:1`;
    const sessionsDir = tempDir();
    const sessions = fileUploadSessions(sessionsDir);

    // 1. A child process pushes; we kill it once the registry has acknowledged ~40% of the blob.
    const child = spawn(
      process.execPath,
      [
        fileURLToPath(new URL('./push-child.mjs', import.meta.url)),
        layoutDir,
        ref,
        sessionsDir,
        String(CHUNK),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
      child.once('exit', (code, signal) => resolve(signal ?? code)),
    );
    let killedAt = -1;
    for await (const line of createInterface({ input: child.stdout })) {
      const event = JSON.parse(line) as RegistryEvent | { type: 'done' };
      if (
        event.type === 'blob-progress' &&
        event.digest === layer.digest &&
        event.bytes >= layer.size * 0.4 &&
        event.bytes < layer.size
      ) {
        child.kill('SIGKILL');
        killedAt = event.bytes;
        break;
      }
      if (event.type === 'done') break;
    }
    expect(await exited, stderr).toBe('SIGKILL');
    expect(killedAt).toBeGreaterThan(0);

    // 2. The session file and the registry agree on how much arrived.
    const saved = await sessions.get(layer.digest, proxy.host, 'resume/big');
    expect(saved, 'session file').toBeDefined();
    expect(saved?.offset).toBeGreaterThanOrEqual(killedAt);
    const status = await fetch(saved?.location ?? '', { method: 'GET' });
    expect(status.status).toBe(204);
    const range = status.headers.get('range');
    expect(range).toBe(`0-${(saved?.offset ?? 0) - 1}`);

    // 3. The same push again resumes: only the rest of the blob is sent.
    const before = proxy.forwardedBytes.PATCH ?? 0;
    const events: RegistryEvent[] = [];
    const started = performance.now();
    const result = await pushImage(await readLayout(layoutDir), ref, {
      sessions,
      chunkSize: CHUNK,
      onEvent: (e) => events.push(e),
    });
    const ms = performance.now() - started;
    const resumed = events.find((e) => e.type === 'blob-resumed');
    expect(resumed).toMatchObject({ digest: layer.digest, offset: saved?.offset });
    expect(result.stats.resumed).toBe(1);
    const pushed = events.find((e) => e.type === 'blob-pushed' && e.digest === layer.digest) as
      | { sent: number }
      | undefined;
    expect(pushed?.sent).toBe(layer.size - (saved?.offset ?? 0));
    expect((proxy.forwardedBytes.PATCH ?? 0) - before).toBe(layer.size - (saved?.offset ?? 0));
    expect(await sessions.get(layer.digest, proxy.host, 'resume/big')).toBeUndefined();
    console.log(
      `[kill-resume] blob ${(layer.size / MB).toFixed(1)} MB; killed after ${(killedAt / MB).toFixed(1)} MB acknowledged; ` +
        `second run sent ${((pushed?.sent ?? 0) / MB).toFixed(1)} MB in ${Math.round(ms)} ms (saved ${(((saved?.offset ?? 0) / layer.size) * 100).toFixed(0)}%)`,
    );

    // 4. The registry has the right bytes.
    const info = await skopeoInspect(`docker://${ref}`);
    expect(info.Digest).toBe(result.digest);
    expect(info.Layers).toEqual([layer.digest]);
  });
});
