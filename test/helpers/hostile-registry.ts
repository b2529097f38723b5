// A registry written by an attacker: a small Node HTTP server on 127.0.0.1 that speaks just enough of
// the distribution API to lead a client into one trap per mode (endless or oversized bodies, a body
// that stalls, a redirect loop, a token server that never finishes, a push that never advances, a
// token realm on another host, a digest that is a path). It records what it received, so a test can
// check what a client sent where (credentials to the foreign realm, requests for traversal paths).
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export type HostileMode =
  /** GET manifest: an endless (chunked) body. */
  | 'endless-manifest'
  /** The layer blob never ends (no Content-Length); its descriptor says 1 MiB. */
  | 'endless-blob'
  /** The layer blob declares and sends 4 MiB; its descriptor says 1 MiB. */
  | 'oversized-blob'
  /** The layer blob declares 1 MiB, sends half, then nothing (the connection stays open). */
  | 'stalled-blob'
  /** GET manifest: 302 to another path, which redirects back. */
  | 'redirect-loop'
  /** A Bearer challenge whose realm (on this server) answers 200 with an endless body. */
  | 'endless-token'
  /** A Bearer challenge whose realm (on this server) sends its body one byte every 200 ms. */
  | 'trickling-token'
  /** Every request: 401 with a Basic challenge and an endless body. */
  | 'endless-401'
  /** GET manifest: 404 with an endless body. */
  | 'endless-404'
  /** Uploads: every PATCH is answered 202 with `Range: 0-0` (nothing kept). */
  | 'patch-no-progress'
  /**
   * A Bearer challenge whose realm is `http://127.0.0.2:<port>/token`: another host, plain HTTP. The
   * realm hands a token to whoever sends credentials and refuses anonymous requests.
   */
  | 'foreign-realm'
  /** The manifest lists a layer digest `sha256:../../../../../etc/passwd`. */
  | 'traversal-digest';

export const HOSTILE_MODES: readonly HostileMode[] = [
  'endless-manifest',
  'endless-blob',
  'oversized-blob',
  'stalled-blob',
  'redirect-loop',
  'endless-token',
  'trickling-token',
  'endless-401',
  'endless-404',
  'patch-no-progress',
  'foreign-realm',
  'traversal-digest',
];

/** One request as the server saw it. */
export interface SeenRequest {
  readonly server: 'registry' | 'foreign-realm';
  readonly method: string;
  /** Path and query. */
  readonly url: string;
  readonly authorization: string | undefined;
}

export interface HostileRegistry {
  readonly mode: HostileMode;
  /** `127.0.0.1:PORT`, as used in image references. */
  readonly host: string;
  /** Every request received, by the registry and (foreign-realm mode) the realm on 127.0.0.2. */
  readonly seen: SeenRequest[];
  /** The digest of the layer the manifest lists (the hostile blob, in blob modes). */
  readonly layerDigest: string;
  /** Bytes of blob content the server sent. */
  readonly blobBytesSent: () => number;
  stop(): Promise<void>;
}

const MiB = 1024 * 1024;
/** What the manifest says the layer weighs. */
const LAYER_SIZE = MiB;
const sha256 = (bytes: Buffer | string) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** Writes `chunk` for as long as the client reads; stops when it goes away. */
function endless(res: ServerResponse, chunk: Buffer): void {
  const write = (): void => {
    while (!res.destroyed && res.write(chunk)) {
      // keep the socket buffer full
    }
    if (!res.destroyed) res.once('drain', write);
  };
  res.on('error', () => {});
  write();
}

/** Writes one byte every `everyMs` until the client goes away. */
function trickle(res: ServerResponse, everyMs: number): void {
  res.on('error', () => {});
  const timer = setInterval(() => {
    if (res.destroyed) clearInterval(timer);
    else res.write('x');
  }, everyMs);
  res.on('close', () => clearInterval(timer));
}

/** Config and manifest of a one-layer image; the manifest lists the layer as `layerDigest`. */
function imageDocuments(layer: Buffer, layerDigest: string): { config: Buffer; manifest: Buffer } {
  const config = Buffer.from(
    JSON.stringify({
      architecture: process.arch === 'arm64' ? 'arm64' : 'amd64',
      os: 'linux',
      config: {},
      rootfs: { type: 'layers', diff_ids: [sha256(layer)] },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: sha256(config),
        size: config.length,
      },
      layers: [
        { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: layer.length },
      ],
    }),
  );
  return { config, manifest };
}

/** A small image whose one layer (`LAYER_SIZE` bytes of zeros) the blob modes subvert. */
function image(mode: HostileMode) {
  const layer = Buffer.alloc(LAYER_SIZE);
  const layerDigest = mode === 'traversal-digest' ? 'sha256:../../../../../etc/passwd' : sha256(layer);
  const { config, manifest } = imageDocuments(layer, layerDigest);
  return { layer, layerDigest, config, configDigest: sha256(config), manifest };
}

async function listen(server: Server, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  return (server.address() as AddressInfo).port;
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

/** Starts a hostile registry in `mode` on 127.0.0.1 (and, for `foreign-realm`, a token server on 127.0.0.2). */
export async function startHostileRegistry(mode: HostileMode): Promise<HostileRegistry> {
  const seen: SeenRequest[] = [];
  const img = image(mode);
  let blobBytes = 0;
  let port = 0;

  // foreign-realm: a token server on another loopback address that hands out tokens to anyone.
  let realm: Server | undefined;
  let realmUrl = '';
  if (mode === 'foreign-realm') {
    // The attacker's realm takes any credentials it is given, and refuses anonymous requests.
    realm = createServer((req, res) => {
      seen.push({
        server: 'foreign-realm',
        method: req.method ?? '',
        url: req.url ?? '',
        authorization: req.headers.authorization,
      });
      res.setHeader('content-type', 'application/json');
      if (!req.headers.authorization) res.writeHead(401).end('{"details":"credentials required"}');
      else res.end(JSON.stringify({ token: 'foreign-realm-token', expires_in: 300 }));
    });
    realmUrl = `http://127.0.0.2:${await listen(realm, '127.0.0.2')}/token`;
  }

  const challenge = (): string | undefined => {
    if (mode === 'foreign-realm') return `Bearer realm="${realmUrl}",service="hostile"`;
    if (mode === 'endless-token' || mode === 'trickling-token')
      return `Bearer realm="http://127.0.0.1:${port}/token",service="hostile"`;
    if (mode === 'endless-401') return 'Basic realm="hostile"';
    return undefined;
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    const method = req.method ?? 'GET';
    if (path === '/token') {
      res.setHeader('content-type', 'application/json');
      if (mode === 'endless-token') endless(res, Buffer.alloc(64 * 1024, 0x20));
      else trickle(res, 200);
      return;
    }
    const wanted = challenge();
    if (mode === 'endless-401' || (wanted && !req.headers.authorization?.startsWith('Bearer '))) {
      res.writeHead(401, { 'www-authenticate': wanted ?? '', 'content-type': 'application/json' });
      if (mode === 'endless-401') endless(res, Buffer.alloc(64 * 1024, 0x7b));
      else res.end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      return;
    }
    if (path === '/v2/') {
      res.end('{}');
      return;
    }
    const manifest = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(path);
    if (manifest) {
      if (mode === 'endless-manifest') {
        res.setHeader('content-type', 'application/vnd.oci.image.manifest.v1+json');
        endless(res, Buffer.alloc(64 * 1024, 0x20));
      } else if (mode === 'redirect-loop') {
        res.writeHead(302, {
          location: path.endsWith('/loop') ? path.replace(/\/loop$/, '') : `${path}/loop`,
        });
        res.end();
      } else if (mode === 'endless-404') {
        res.writeHead(404, { 'content-type': 'application/json' });
        endless(res, Buffer.alloc(64 * 1024, 0x20));
      } else if (method === 'PUT') {
        req.resume();
        res.writeHead(201, { 'docker-content-digest': '' }).end();
      } else if (mode === 'patch-no-progress') {
        res.writeHead(404).end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
      } else {
        res.writeHead(200, {
          'content-type': 'application/vnd.oci.image.manifest.v1+json',
          'content-length': img.manifest.length,
        });
        res.end(method === 'HEAD' ? undefined : img.manifest);
      }
      return;
    }
    if (/\/manifests\/[^/]+\/loop$/.test(path)) {
      res.writeHead(302, { location: path.replace(/\/loop$/, '') }).end();
      return;
    }
    const blob = /^\/v2\/(.+)\/blobs\/([^/]+)$/.exec(path);
    if (blob && method !== 'PUT' && method !== 'PATCH') {
      const digest = decodeURIComponent(blob[2] ?? '');
      if (mode === 'patch-no-progress') {
        res.writeHead(404).end();
      } else if (digest === img.configDigest) {
        res.writeHead(200, { 'content-length': img.config.length });
        res.end(method === 'HEAD' ? undefined : img.config);
      } else if (digest !== img.layerDigest) {
        res.writeHead(404).end('{"errors":[{"code":"BLOB_UNKNOWN"}]}');
      } else if (mode === 'endless-blob') {
        const chunk = Buffer.alloc(64 * 1024);
        const write = (): void => {
          while (!res.destroyed && res.write(chunk)) blobBytes += chunk.length;
          if (!res.destroyed) res.once('drain', write);
        };
        res.on('error', () => {});
        write();
      } else if (mode === 'oversized-blob') {
        res.writeHead(200, { 'content-length': 4 * LAYER_SIZE });
        blobBytes += 4 * LAYER_SIZE;
        res.end(Buffer.alloc(4 * LAYER_SIZE));
      } else if (mode === 'stalled-blob') {
        res.writeHead(200, { 'content-length': LAYER_SIZE });
        res.write(img.layer.subarray(0, LAYER_SIZE / 2));
        blobBytes += LAYER_SIZE / 2;
        res.on('error', () => {}); // and then nothing: the socket stays open
      } else {
        res.writeHead(200, { 'content-length': img.layer.length });
        res.end(method === 'HEAD' ? undefined : img.layer);
      }
      return;
    }
    // Uploads (patch-no-progress): sessions that never keep a byte.
    if (/\/blobs\/uploads\//.test(path)) {
      req.resume();
      req.on('end', () => {
        const location = `/v2/evil/blobs/uploads/session-1`;
        if (method === 'POST') res.writeHead(202, { location, range: '0-0' }).end();
        else if (method === 'PATCH') res.writeHead(202, { location, range: '0-0' }).end();
        else if (method === 'GET') res.writeHead(204, { location, range: '0-0' }).end();
        else if (method === 'PUT') res.writeHead(201).end();
        else res.writeHead(204).end();
      });
      return;
    }
    res.writeHead(404).end();
  };

  const server = createServer((req, res) => {
    seen.push({
      server: 'registry',
      method: req.method ?? '',
      url: req.url ?? '',
      authorization: req.headers.authorization,
    });
    handle(req, res);
  });
  port = await listen(server, '127.0.0.1');
  return {
    mode,
    host: `127.0.0.1:${port}`,
    seen,
    layerDigest: img.layerDigest,
    blobBytesSent: () => blobBytes,
    stop: async () => {
      await close(server);
      if (realm) await close(realm);
    },
  };
}

/**
 * Writes an OCI layout in `dir` with one image whose layer is `layerSize` random bytes (default 17 MiB:
 * more than one 16 MiB chunk, so a push PATCHes it). Returns the layer's digest.
 */
export function writeLayoutWithLargeLayer(dir: string, layerSize = 17 * MiB): string {
  const layer = randomBytes(layerSize);
  const { config, manifest } = imageDocuments(layer, sha256(layer));
  const blobs = join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  for (const bytes of [layer, config, manifest]) writeFileSync(join(blobs, sha256(bytes).slice(7)), bytes);
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: sha256(manifest),
          size: manifest.length,
          annotations: { 'org.opencontainers.image.ref.name': 'latest' },
        },
      ],
    }),
  );
  return sha256(layer);
}
