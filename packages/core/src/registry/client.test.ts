// The client against a scripted loopback server: manifests and blobs are bounded, digests from the
// network are validated before use, stalled bodies time out and are retried, and a push whose
// registry never moves forward ends.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { appendLayers, emptyImage, layerFromBytes } from '../image/index.js';
import { MediaType, sha256Digest } from '../oci/index.js';
import { MANIFEST_LIMIT, RegistryClient } from './client.js';
import type { RegistryError } from './errors.js';
import { pushImage } from './push.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r).closeAllConnections())));
});

/** A server on 127.0.0.1; every request is logged as `METHOD path`. */
async function serve(handler: Handler): Promise<{ host: string; log: string[] }> {
  const log: string[] = [];
  const server = createServer((req, res) => {
    log.push(`${req.method} ${req.url?.split('?')[0]}`);
    if (req.url === '/v2/') {
      res.end('{}');
      return;
    }
    handler(req, res);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { host: `127.0.0.1:${(server.address() as AddressInfo).port}`, log };
}

const fast = { retry: { baseDelayMs: 1, maxDelayMs: 5 }, configFile: false as const, env: {} };
const rejection = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: RegistryError) => e,
  );

/** Writes `chunk` until the client goes away. */
function endless(res: ServerResponse, chunk: Buffer): void {
  const write = () => {
    while (res.write(chunk)) if (res.destroyed) return;
    res.once('drain', write);
  };
  res.on('error', () => {});
  write();
}

const digest = (c: string) => `sha256:${c.repeat(64)}`;

function manifestWith(layerDigest: string, size = 10): string {
  return JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: digest('a'), size: 2 },
    layers: [{ mediaType: MediaType.ociLayer, digest: layerDigest, size }],
  });
}

describe('manifests from the network', () => {
  it('refuses a layer digest with "../" before any URL is made from it', async () => {
    const { host, log } = await serve((_req, res) => {
      res.setHeader('content-type', MediaType.ociManifest);
      res.end(manifestWith('sha256:../../../../../etc/passwd'));
    });
    const repo = new RegistryClient(host, fast).repository('evil');
    const error = await rejection(repo.fetchManifest('latest'));
    expect(error?.code).toBe('REGISTRY_INVALID');
    expect(error?.message).toContain(
      'descriptor /layers/0 has an invalid digest "sha256:../../../../../etc/passwd"',
    );
    // A digest the caller got elsewhere is checked again where it becomes a URL.
    await expect(repo.checkExistingBlob('sha256:../../etc/passwd' as never)).rejects.toThrow(/invalid/);
    expect(log.filter((l) => l.includes('etc'))).toEqual([]);
  });

  it('refuses an index entry whose digest is not a digest, and a tag that is a path', async () => {
    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      manifests: [{ mediaType: MediaType.ociManifest, digest: `sha256:${'a'.repeat(63)}/`, size: 10 }],
    });
    const { host, log } = await serve((_req, res) => {
      res.setHeader('content-type', MediaType.ociIndex);
      res.end(index);
    });
    const repo = new RegistryClient(host, fast).repository('evil');
    await expect(repo.fetchManifest('latest')).rejects.toThrow(
      /descriptor \/manifests\/0 has an invalid digest/,
    );
    await expect(repo.fetchManifest('../../x')).rejects.toThrow(/invalid tag "..\/..\/x"/);
    expect(log.filter((l) => l.includes('x'))).toEqual([]);
  });

  it('refuses negative or non-integer descriptor sizes (they bound the downloads)', async () => {
    for (const size of [-1, 1.5, 1e300]) {
      const { host } = await serve((_req, res) => res.end(manifestWith(digest('b'), size)));
      const error = await rejection(
        new RegistryClient(host, fast).repository('evil').fetchManifest('latest'),
      );
      expect(error?.message).toMatch(/has an invalid size/);
    }
  });

  it('stops reading an endless manifest at 4 MiB, with or without a Content-Length', async () => {
    for (const lie of [false, true]) {
      const { host } = await serve((_req, res) => {
        if (lie) res.setHeader('content-length', String(64 * 1024 * 1024 * 1024));
        endless(res, Buffer.alloc(64 * 1024, 0x20));
      });
      const error = await rejection(
        new RegistryClient(host, fast).repository('evil').fetchManifest('latest'),
      );
      expect(error?.code).toBe('REGISTRY_TOO_LARGE');
      expect(error?.message).toContain(`manifest latest from ${host}/evil is larger than 4 MiB`);
    }
    expect(MANIFEST_LIMIT).toBe(4 * 1024 * 1024);
  });

  it('times out a manifest body that stalls halfway, retries it, then names the idle timeout', async () => {
    let requests = 0;
    const { host } = await serve((_req, res) => {
      requests++;
      res.setHeader('content-length', '1000');
      res.write('{"schemaVersion":');
    });
    const started = Date.now();
    // 1 s: short, yet long enough that a loaded machine's scheduling does not trip it early.
    const options = { ...fast, retry: { ...fast.retry, attempts: 2 }, timeoutMs: 1_000 };
    const error = await rejection(
      new RegistryClient(host, options).repository('evil').fetchManifest('latest'),
    );
    expect(error?.code).toBe('REGISTRY_UNAVAILABLE');
    expect(error?.message).toMatch(
      /failed after 2 attempts: the registry stopped sending \(no data for 1 s; WHARF_REGISTRY_TIMEOUT/,
    );
    expect(requests).toBe(2);
    expect(Date.now() - started).toBeLessThan(6_000);
  });
});

describe('blobs', () => {
  const descriptor = { mediaType: MediaType.ociLayer, digest: digest('c') as never, size: 1000 };

  it('fail as soon as they pass the descriptor size (no Content-Length: chunked, endless)', async () => {
    const { host } = await serve((_req, res) => endless(res, Buffer.alloc(16 * 1024)));
    const stream = await new RegistryClient(host, fast).repository('evil').fetchBlob(descriptor);
    let read = 0;
    const error = await (async () => {
      for await (const chunk of stream) read += (chunk as Buffer).byteLength;
    })().then(
      () => undefined,
      (e: RegistryError) => e,
    );
    expect(error?.code).toBe('REGISTRY_TOO_LARGE');
    expect(error?.message).toContain("is larger than its descriptor's 1000 bytes");
    expect(read).toBeLessThanOrEqual(1000);
  });

  it('fail before reading when Content-Length is larger than the descriptor', async () => {
    const { host } = await serve((_req, res) => {
      res.setHeader('content-length', '5000');
      res.end(Buffer.alloc(5000));
    });
    const error = await rejection(new RegistryClient(host, fast).repository('evil').fetchBlob(descriptor));
    expect(error?.code).toBe('REGISTRY_TOO_LARGE');
  });
});

describe('push', () => {
  it('ends an upload the registry never moves forward (every PATCH answered Range: 0-0)', async () => {
    let patches = 0;
    const { host } = await serve((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.method === 'HEAD') res.writeHead(404).end();
        else if (req.method === 'POST') res.writeHead(202, { location: '/v2/evil/blobs/uploads/1' }).end();
        else if (req.method === 'PATCH') {
          patches++;
          res.writeHead(202, { location: '/v2/evil/blobs/uploads/1', range: '0-0' }).end();
        } else if (req.method === 'PUT') res.writeHead(201).end();
        else res.writeHead(404).end();
      });
    });
    const bytes = Buffer.alloc(10_000, 7);
    const image = appendLayers(
      emptyImage(),
      layerFromBytes(bytes, { mediaType: MediaType.ociLayer, diffId: sha256Digest(bytes) }),
    );
    const error = await rejection(pushImage(image, `${host}/evil:1`, { ...fast, chunkSize: 1024 }));
    expect(error?.code).toBe('REGISTRY_PROTOCOL');
    expect(error?.message).toMatch(
      /makes no progress: the registry stays at 1 of 10000 bytes after 5 chunks/,
    );
    expect(patches).toBeLessThan(10);
  });
});
