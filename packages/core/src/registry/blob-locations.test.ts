// BlobLocations against a scripted registry that keeps blobs per repository: pushes of one run that
// share blobs upload each once per registry and mount it into the other repositories, even when they
// run at once, through one client per registry.
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { appendLayers, emptyImage, layerFromBytes } from '../image/index.js';
import { MediaType, sha256Digest } from '../oci/index.js';
import { BlobLocations, pushImage } from './push.js';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r).closeAllConnections())));
});

/** A registry holding blobs per repository; counts uploads (PUT of a blob) and mounts. */
async function registry() {
  const held = new Map<string, Set<string>>(); // repository → digests
  const counts = { uploads: 0, mounts: 0, pings: 0 };
  const holds = (repo: string) => held.get(repo) ?? held.set(repo, new Set()).get(repo) ?? new Set<string>();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/v2/') {
      counts.pings++;
      return void res.end('{}');
    }
    const m = /^\/v2\/(.+)\/(blobs|manifests)\/(.*)$/.exec(url.pathname);
    const [, repo = '', kind, rest = ''] = m ?? [];
    req.resume();
    req.on('end', () => {
      if (kind === 'manifests') {
        res.statusCode = req.method === 'PUT' ? 201 : 404;
        return void res.end();
      }
      if (req.method === 'HEAD') {
        res.statusCode = holds(repo).has(rest) ? 200 : 404;
        return void res.end();
      }
      if (req.method === 'POST') {
        const mount = url.searchParams.get('mount');
        const from = url.searchParams.get('from');
        if (mount && from && holds(from).has(mount)) {
          holds(repo).add(mount);
          counts.mounts++;
          res.statusCode = 201;
          return void res.end();
        }
        res.statusCode = 202;
        res.setHeader('location', `/v2/${repo}/blobs/uploads/${randomUUID()}`);
        return void res.end();
      }
      if (req.method === 'PUT' && rest.startsWith('uploads/')) {
        holds(repo).add(url.searchParams.get('digest') ?? '');
        counts.uploads++;
        res.statusCode = 201;
        return void res.end();
      }
      res.statusCode = 405;
      res.end();
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { host: `127.0.0.1:${(server.address() as AddressInfo).port}`, counts };
}

it('uploads a blob two concurrent pushes share once and mounts it into the other repository', async () => {
  const { host, counts } = await registry();
  const layer = (text: string) => {
    const bytes = Buffer.from(text);
    return layerFromBytes(bytes, { mediaType: MediaType.ociLayer, diffId: sha256Digest(bytes) });
  };
  const shared = layer('shared layer');
  const api = appendLayers(emptyImage(), shared, layer('api'));
  const web = appendLayers(emptyImage(), shared, layer('web'));
  const blobs = new BlobLocations();
  const options = { blobs, configFile: false as const, env: {} };
  const [a, b] = await Promise.all([
    pushImage(api, `${host}/mono/api:1`, options),
    pushImage(web, `${host}/mono/web:1`, options),
  ]);
  // Uploaded: the shared layer once, each image's own layer and config; the shared layer is mounted.
  expect(counts.uploads).toBe(5);
  expect(counts.mounts).toBe(1);
  expect(a.stats.mounted + b.stats.mounted).toBe(1);
  expect(a.stats.bytesMounted + b.stats.bytesMounted).toBeGreaterThan(0);
  expect(counts.uploads).toBe(a.stats.uploaded + b.stats.uploaded);
  expect([...blobs.holders(host, await shared.digest())].sort()).toEqual(['mono/api', 'mono/web']);
  // one client for the run's pushes to the registry: its scheme is found (and pinged) once
  expect(counts.pings).toBe(1);
  await blobs.close();
  // without shared locations both pushes upload the shared layer
  const before = counts.uploads;
  await Promise.all([
    pushImage(api, `${host}/solo/api:1`, { configFile: false, env: {} }),
    pushImage(web, `${host}/solo/web:1`, { configFile: false, env: {} }),
  ]);
  expect(counts.uploads - before).toBe(6);
  expect(counts.pings).toBe(3);
});
