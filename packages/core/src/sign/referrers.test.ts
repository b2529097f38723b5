import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Descriptor, type Digest, MediaType } from '../oci/index.js';
import { RegistryClient } from '../registry/index.js';
import { attachArtifacts, referrersTag } from './referrers.js';

// A loopback registry just big enough for attaching: blobs are accepted, manifests stored; with
// `ociSubject` on it answers a manifest PUT with `subject` as a registry with the referrers API does.
const requests: string[] = [];
const manifests = new Map<string, Buffer>();
let ociSubject = false;

function handle(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
  const path = (req.url ?? '').split('?')[0] as string;
  requests.push(`${req.method} ${path.replace(/sha256:[0-9a-f]{64}/g, 'DIGEST')}`);
  if (path === '/v2/') return void res.writeHead(200).end('{}');
  if (req.method === 'HEAD' && path.includes('/blobs/')) return void res.writeHead(404).end();
  if (req.method === 'POST' && path.endsWith('/blobs/uploads/')) {
    return void res.writeHead(202, { location: '/v2/app/blobs/uploads/1' }).end();
  }
  if (req.method === 'PUT' && path.startsWith('/v2/app/blobs/uploads/')) return void res.writeHead(201).end();
  const reference = /^\/v2\/app\/manifests\/(.+)$/.exec(path)?.[1];
  if (reference && req.method === 'PUT') {
    manifests.set(reference, body);
    const subject = (JSON.parse(body.toString()) as { subject?: Descriptor }).subject;
    return void res.writeHead(201, ociSubject && subject ? { 'oci-subject': subject.digest } : {}).end();
  }
  if (reference && req.method === 'GET' && manifests.has(reference)) {
    return void res.writeHead(200, { 'content-type': MediaType.ociIndex }).end(manifests.get(reference));
  }
  res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"NOT_FOUND"}]}');
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => handle(req, res, Buffer.concat(chunks)));
});
let host = '';
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const subject: Descriptor = {
  mediaType: MediaType.ociManifest,
  digest: `sha256:${'a'.repeat(64)}` as Digest,
  size: 10,
};
const artifact = {
  artifactType: 'application/spdx+json',
  blobs: [{ mediaType: 'application/spdx+json', bytes: Buffer.from('{"spdxVersion":"SPDX-2.3"}') }],
};

async function attach(): Promise<string[]> {
  requests.length = 0;
  manifests.clear();
  const client = new RegistryClient(host);
  try {
    await attachArtifacts(client.repository('app', 'pull,push'), subject, [artifact]);
  } finally {
    await client.close();
  }
  return requests.filter((r) => r.includes('/manifests/') || r.includes('/referrers/'));
}

describe('attaching referrers: OCI-Subject decides the tag fallback (distribution-spec v1.1)', () => {
  it('a registry that answers OCI-Subject keeps the list: no tag, and no probe of the referrers API', async () => {
    ociSubject = true;
    expect(await attach()).toEqual(['PUT /v2/app/manifests/DIGEST']);
    expect(manifests.has(referrersTag(subject.digest))).toBe(false);
  }, 30_000); // the first request probes for HTTPS

  it('without the header the sha256-<hex> tag index is read and written', async () => {
    ociSubject = false;
    const tag = referrersTag(subject.digest);
    expect(await attach()).toEqual([
      'PUT /v2/app/manifests/DIGEST',
      `GET /v2/app/manifests/${tag}`,
      `PUT /v2/app/manifests/${tag}`,
    ]);
    const index = JSON.parse((manifests.get(tag) as Buffer).toString()) as { manifests: Descriptor[] };
    expect(index.manifests.map((d) => d.artifactType)).toEqual(['application/spdx+json']);
  }, 30_000);
});
