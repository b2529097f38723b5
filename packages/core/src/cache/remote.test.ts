import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MediaType } from '../oci/index.js';
import { openStore } from '../store/store.js';
import { exportCache, importCache, parseCacheSpec } from './remote.js';
import type { CacheRecord } from './remote-format.js';
import { portableInputs, portablePosition } from './remote-inputs.js';
import { StepCache } from './step-cache.js';

const dirs: string[] = [];
async function temp(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-remote-cache-'));
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

const key = (n: number) => n.toString(16).padStart(64, '0');

/** A store holding one "layer" blob and the records of two steps (one made it, one made nothing). */
async function machineA() {
  const store = await openStore({ root: await temp() });
  const { digest, size } = await store.put(new TextEncoder().encode('layer tar bytes'));
  const layer = { digest, diffId: digest, size, mediaType: MediaType.ociLayer, uncompressedSize: size };
  const records: CacheRecord[] = [
    { key: key(1), layer },
    { key: key(2), layer: null },
  ];
  return { store, layer, records };
}

describe('parseCacheSpec', () => {
  it('reads buildx-style specs', () => {
    expect(parseCacheSpec('type=registry,ref=r.example/app:cache,mode=max', 'to')).toEqual({
      type: 'registry',
      ref: 'r.example/app:cache',
      mode: 'max',
    });
    expect(parseCacheSpec('r.example/app:cache', 'from')).toEqual({
      type: 'registry',
      ref: 'r.example/app:cache',
    });
    expect(parseCacheSpec('type=local,dest=out/cache', 'to')).toEqual({ type: 'local', dir: 'out/cache' });
    expect(parseCacheSpec('type=local,src=out/cache', 'from')).toEqual({ type: 'local', dir: 'out/cache' });
    expect(parseCacheSpec('type=local,dest=c,mode=max,mounts=true,mount-limit=2GiB', 'to')).toEqual({
      type: 'local',
      dir: 'c',
      mode: 'max',
      mounts: true,
      mountLimit: 2 * 2 ** 30,
    });
    // some mounts by id: one, or a CSV-quoted list (as buildx quotes a list inside a spec)
    expect(parseCacheSpec('type=local,dest=c,mounts=npm', 'to')).toMatchObject({ mounts: ['npm'] });
    for (const text of [
      'type=local,dest=c,"mounts=npm,apt-cache"',
      'type=local,dest=c,mounts="npm,apt-cache"',
    ])
      expect(parseCacheSpec(text, 'to')).toMatchObject({ dir: 'c', mounts: ['npm', 'apt-cache'] });
    expect(parseCacheSpec('type=local,dest=c,mounts=false', 'to')).not.toHaveProperty('mounts');
  });

  it('refuses bad specs with one line naming the flag and the fix (CACHE_BAD_SPEC)', () => {
    expect(() => parseCacheSpec('type=gha', 'to')).toThrow(
      /--cache-to "type=gha": type must be registry or local/,
    );
    expect(() => parseCacheSpec('type=local,src=x', 'to')).toThrow(
      /unknown field src .*takes type, dest, mode, mounts, mount-limit, compression, compression-level/,
    );
    expect(() => parseCacheSpec('type=registry,ref=r/a,mode=all', 'to')).toThrow(/mode must be min or max/);
    expect(() => parseCacheSpec('type=registry', 'from')).toThrow(/--cache-from .*needs ref=REF/);
    expect(() => parseCacheSpec('type=registry,ref=r/a,mounts=true', 'from')).toThrow(/unknown field mounts/);
    expect(() => parseCacheSpec('type=registry,ref=r/a,"mounts=npm,"', 'to')).toThrow(
      /mounts must be true, false, or cache mount ids/,
    );
    expect(() => parseCacheSpec('type=registry,ref=r/a,mount-limit=lots', 'to')).toThrow(
      /mount-limit must be a size/,
    );
  });
});

describe('miss explanations across machines', () => {
  it('a miss with no local history is explained against the imported record at the same position', async () => {
    const a = await machineA();
    const inputs = {
      parent: 'p',
      parentIsBase: false,
      config: JSON.stringify({ Env: ['PATH=/bin', 'NPM_TOKEN=s3cret'] }),
      args: ['VERSION=1'],
      instruction: 'COPY src /src',
      files: { 'src/a.ts': 'file:644:0:0:/src/a.ts:sha256:aa' },
      epoch: 0,
    };
    const slot = `/home/a/project\0app\0app\x000`;
    const records = [
      { ...a.records[0], at: portablePosition(slot), inputs: portableInputs(inputs) } as CacheRecord,
    ];
    const dir = join(await temp(), 'cache');
    await exportCache({ type: 'local', dir }, records, { store: a.store });
    const blobs = join(dir, 'blobs', 'sha256');
    const texts = await Promise.all((await readdir(blobs)).map((n) => readFile(join(blobs, n), 'utf8')));
    expect(texts.some((t) => t.includes('"records"'))).toBe(true);
    // every ARG value and secret-looking ENV values are hashed
    expect(texts.filter((t) => t.includes('s3cret') || t.includes('VERSION=1'))).toEqual([]);

    const storeB = await openStore({ root: await temp() });
    const cache = new StepCache(storeB.root);
    cache.attach([await importCache({ type: 'local', dir }, { store: storeB })], () => {});
    // another machine, another context path, the same position; one file edited, the ARG changed
    const changed = {
      ...inputs,
      args: ['VERSION=2'],
      files: { 'src/a.ts': 'file:644:0:0:/src/a.ts:sha256:bb' },
    };
    expect(cache.explainFromSources(`/ci/build\0app\0app\x000`, changed)).toMatch(
      new RegExp(
        `^remote cache local:.* had ${key(1).slice(0, 12)}: build arg VERSION .*; context file src/a.ts changed`,
      ),
    );
    expect(cache.explainFromSources(`/ci/build\0app\0app\x001`, changed)).toBeUndefined();
  });
});

describe('type=local', () => {
  it('exports an OCI layout and a fresh cache imports it: records first, the layer when a hit needs it', async () => {
    const a = await machineA();
    const dir = join(await temp(), 'cache');
    const done = await exportCache({ type: 'local', dir }, a.records, { store: a.store });
    expect(done).toMatchObject({ records: 2, layers: 1 });
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'));
    expect(index.manifests[0].digest).toBe(done.digest);
    expect(await readFile(join(dir, 'oci-layout'), 'utf8')).toContain('1.0.0');

    const storeB = await openStore({ root: await temp() });
    const source = await importCache({ type: 'local', dir }, { store: storeB });
    expect(await storeB.has(a.layer.digest)).toBe(false); // nothing downloaded yet
    const cache = new StepCache(storeB.root);
    const warnings: string[] = [];
    cache.attach([source], (message) => warnings.push(message));
    const found = await cache.get(key(1));
    expect(found).toEqual({ kind: 'hit', layer: a.layer });
    expect(await cache.available(key(1), a.layer, storeB)).toBe(true);
    expect(await storeB.has(a.layer.digest)).toBe(true);
    expect(await cache.get(key(2))).toEqual({ kind: 'hit-empty' });
    expect(await cache.get(key(3))).toEqual({ kind: 'miss' });
    // recorded locally: a later build needs no import
    expect(await new StepCache(storeB.root).get(key(1))).toEqual({ kind: 'hit', layer: a.layer });
    expect(warnings).toEqual([]);
  });

  it('a second export replaces index.json whole and keeps shared blobs', async () => {
    const a = await machineA();
    const dir = join(await temp(), 'cache');
    const first = await exportCache({ type: 'local', dir }, a.records, { store: a.store });
    const second = await exportCache({ type: 'local', dir }, a.records.slice(1), { store: a.store });
    expect(second.digest).not.toBe(first.digest);
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'));
    expect(index.manifests.map((m: { digest: string }) => m.digest)).toEqual([second.digest]);
    expect((await readdir(dir)).filter((n) => n.includes('tmp'))).toEqual([]);
  });

  it('a missing directory or a corrupt manifest is an error naming it (the engine warns)', async () => {
    const storeB = await openStore({ root: await temp() });
    const missing = join(await temp(), 'none');
    await expect(importCache({ type: 'local', dir: missing }, { store: storeB })).rejects.toThrow(
      /no cache in .*none/,
    );
    const a = await machineA();
    const dir = join(await temp(), 'cache');
    const done = await exportCache({ type: 'local', dir }, a.records, { store: a.store });
    const manifestPath = join(dir, 'blobs', 'sha256', done.digest.slice(7));
    await rm(manifestPath, { force: true });
    await writeFile(manifestPath, 'garbage');
    await expect(importCache({ type: 'local', dir }, { store: storeB })).rejects.toThrow(
      /does not match its digest/,
    );
  });

  it('a layer that cannot be fetched is a warning and a miss, not a failure', async () => {
    const a = await machineA();
    const dir = join(await temp(), 'cache');
    await exportCache({ type: 'local', dir }, a.records, { store: a.store });
    await rm(join(dir, 'blobs', 'sha256', a.layer.digest.slice(7)));
    const storeB = await openStore({ root: await temp() });
    const cache = new StepCache(storeB.root);
    const warnings: string[] = [];
    cache.attach([await importCache({ type: 'local', dir }, { store: storeB })], (m) => warnings.push(m));
    expect(await cache.available(key(1), a.layer, storeB)).toBe(false);
    expect(warnings[0]).toMatch(/cache import from local:.*layer sha256:.* could not be fetched/);
  });

  it('a layer blob longer than its record is cut off and not stored', async () => {
    const a = await machineA();
    const dir = join(await temp(), 'cache');
    await exportCache({ type: 'local', dir }, a.records, { store: a.store });
    const blob = join(dir, 'blobs', 'sha256', a.layer.digest.slice(7));
    await rm(blob);
    await writeFile(blob, 'x'.repeat(a.layer.size * 100));
    const storeB = await openStore({ root: await temp() });
    const cache = new StepCache(storeB.root);
    const warnings: string[] = [];
    cache.attach([await importCache({ type: 'local', dir }, { store: storeB })], (m) => warnings.push(m));
    expect(await cache.available(key(1), a.layer, storeB)).toBe(false);
    expect(warnings[0]).toMatch(/read more than \d+ bytes/);
    expect(await storeB.has(a.layer.digest)).toBe(false);
  });
});
