// lockBases and lockedGraph against a small in-memory registry on loopback that serves manifests by tag
// and by digest (the e2e test in test/e2e/cli-lock.test.ts uses the real docker-registry).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from '../build.js';
import { lowerDockerfile } from '../dockerfile/lower/index.js';
import { stage } from '../dsl/index.js';
import type { BuildEvent } from '../events.js';
import { type Digest, MediaType, sha256Digest } from '../oci/index.js';
import { formatLock, type LockFile, readLock } from './file.js';
import { lockBases, lockedGraph, resolveLockEntry } from './locked.js';

/** repository → tag or digest → manifest bytes. */
const manifests = new Map<string, Map<string, { bytes: Buffer; mediaType: string }>>();
let server: Server;
let host: string;

function put(repository: string, tag: string, doc: object, mediaType: string): Digest {
  const bytes = Buffer.from(JSON.stringify({ ...doc, mediaType }));
  const digest = sha256Digest(bytes);
  const repo = manifests.get(repository) ?? new Map();
  repo.set(tag, { bytes, mediaType });
  repo.set(digest, { bytes, mediaType });
  manifests.set(repository, repo);
  return digest;
}

function image(repository: string, tag: string, seed: string): Digest {
  const blob = { mediaType: MediaType.ociConfig, digest: sha256Digest(seed), size: seed.length };
  return put(repository, tag, { schemaVersion: 2, config: blob, layers: [] }, MediaType.ociManifest);
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(req.url ?? '');
    if (req.url === '/v2/') return void res.writeHead(200).end('{}');
    const found = m ? manifests.get(m[1] as string)?.get(m[2] as string) : undefined;
    if (!found) return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[]}');
    res.writeHead(200, {
      'content-type': found.mediaType,
      'docker-content-digest': sha256Digest(found.bytes),
    });
    res.end(req.method === 'HEAD' ? undefined : found.bytes);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const tempDir = () => mkdtempSync(join(tmpdir(), 'wharf-lock-'));
const registry = { retry: { attempts: 1 } };

describe('resolveLockEntry', () => {
  it('pins an index by its own digest and lists each platform, leaving attestations out', async () => {
    const amd = image('multi', 'amd', 'a');
    const arm = image('multi', 'arm', 'b');
    const att = image('multi', 'att', 'c');
    const entry = { mediaType: MediaType.ociManifest, size: 10 };
    const index = put(
      'multi',
      '1',
      {
        schemaVersion: 2,
        manifests: [
          { ...entry, digest: amd, platform: { os: 'linux', architecture: 'amd64' } },
          { ...entry, digest: arm, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
          { ...entry, digest: att, platform: { os: 'unknown', architecture: 'unknown' } },
        ],
      },
      MediaType.ociIndex,
    );
    expect(await resolveLockEntry(`${host}/multi:1`, registry)).toEqual({
      digest: index,
      mediaType: MediaType.ociIndex,
      platforms: { 'linux/amd64': amd, 'linux/arm64': arm }, // arm64/v8 normalised, as containerd does
    });
  });

  it('a single image: its manifest digest, no platforms', async () => {
    const digest = image('single', '1', 'single');
    expect(await resolveLockEntry(`${host}/single:1`, registry)).toEqual({
      digest,
      mediaType: MediaType.ociManifest,
    });
  });
});

describe('lockBases and lockedGraph', () => {
  it('locks, keeps, updates, drops; a build pins to it and says so; --locked fails when a tag moved', async () => {
    const one = image('app/base', '1', 'v1');
    const tool = image('app/tool', '1', 't1');
    const graph = lowerDockerfile(
      `FROM ${host}/app/base:1 AS b\nCOPY --from=${host}/app/tool:1 /x /x\nFROM b\n`,
    );
    const base = `${host}/app/base:1`;
    const first = await lockBases(graph, { registry });
    expect(first.changes.map((c) => [c.key, c.status])).toEqual([
      [base, 'added'],
      [`${host}/app/tool:1`, 'added'],
    ]);
    expect(first.lock.images[base]?.digest).toBe(one);
    const dir = tempDir();
    writeFileSync(join(dir, 'wharf.lock'), formatLock(first.lock));

    const events: BuildEvent[] = [];
    const pinned = await lockedGraph(graph, { dir, registry, onEvent: (e) => events.push(e), locked: true });
    expect(pinned.stages[0]?.base).toEqual({ kind: 'image', ref: `${base}@${one}` });
    expect(pinned.stages[0]?.instructions[0]).toMatchObject({
      from: { kind: 'image', ref: `${host}/app/tool:1@${tool}` },
    });
    expect(events).toContainEqual({ type: 'log', text: `wharf.lock: ${base} pinned to ${one}` });

    // the tag moves
    const two = image('app/base', '1', 'v2');
    // without --locked: the locked digest, no registry asked (the server could be gone)
    const offline = await lockedGraph(graph, { dir, registry: { insecure: ['127.0.0.1:1'] } });
    expect(offline.stages[0]?.base).toEqual({ kind: 'image', ref: `${base}@${one}` });
    const moved = lockedGraph(graph, { dir, registry, locked: true });
    await expect(moved).rejects.toMatchObject({
      code: 'LOCK_TAG_MOVED',
      message: `--locked: base ${base} moved: the registry has ${two}, wharf.lock has ${one}`,
      hint: expect.stringContaining(`wharf lock --update ${base}`),
    });

    // wharf lock (no --update) keeps what is locked; --update NAME refreshes that one
    const kept = await lockBases(graph, { registry, current: (await readLock(dir)) as LockFile });
    expect(kept.changes.map((c) => c.status)).toEqual(['kept', 'kept']);
    const updated = await lockBases(graph, { registry, current: first.lock, update: [base] });
    expect(updated.changes[0]).toEqual({ key: base, digest: two, status: 'updated', previous: one });
    expect(updated.changes[1]?.status).toBe('kept');
    const all = await lockBases(graph, { registry, current: first.lock, update: true });
    expect(all.changes.map((c) => c.status)).toEqual(['updated', 'unchanged']);
    await expect(lockBases(graph, { registry, update: ['alpine:3'] })).rejects.toMatchObject({
      code: 'LOCK_UNKNOWN_BASE',
    });

    // a base the lock lacks: a warning, or with --locked an error naming it
    const other = lowerDockerfile(`FROM ${host}/app/other:1\n`);
    image('app/other', '1', 'o');
    const warned: BuildEvent[] = [];
    await lockedGraph(other, { dir, registry, onEvent: (e) => warned.push(e) });
    expect(warned).toEqual([
      {
        type: 'warning',
        message: `base ${host}/app/other:1 is not in wharf.lock: built from the tag as it is now`,
        hint: 'run wharf lock to pin it',
      },
    ]);
    await expect(lockedGraph(other, { dir, registry, locked: true })).rejects.toMatchObject({
      code: 'LOCK_BASE_MISSING',
      message: `--locked: base ${host}/app/other:1 is not in wharf.lock`,
    });
    // entries no stage uses any more are dropped
    const dropped = await lockBases(other, { registry, current: first.lock });
    expect(dropped.changes.map((c) => c.status)).toEqual(['removed', 'added', 'removed']); // by key
    expect(Object.keys(dropped.lock.images)).toEqual([`${host}/app/other:1`]);
  });

  it('without a lock: the graph as it is; --locked names the missing file and the fix', async () => {
    const graph = lowerDockerfile('FROM alpine:3.20\n');
    const dir = tempDir();
    expect(await lockedGraph(graph, { dir })).toBe(graph);
    await expect(lockedGraph(graph, { dir, locked: true })).rejects.toMatchObject({
      code: 'LOCK_MISSING',
      hint: expect.stringMatching(/^run wharf lock/),
    });
  });
});

describe('build() with lock', () => {
  it('pins through lockedGraph: --locked without a wharf.lock fails before any work', async () => {
    const dir = tempDir();
    await expect(
      build(stage('app').from('alpine:3.20'), { contextDir: dir, lock: { dir, locked: true } }),
    ).rejects.toMatchObject({ code: 'LOCK_MISSING', message: `--locked: there is no wharf.lock in ${dir}` });
  });
});
