import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { readOciArchive } from '../archive/oci-archive.js';
import { define } from '../dsl/graph.js';
import { stage } from '../dsl/stage.js';
import { bake, bakeMetadata } from './bake.js';

const dir = mkdtempSync(join(tmpdir(), 'wharf-bake-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('builds every target of the default group concurrently, a shared stage once, each with its outputs and labels', async () => {
  writeFileSync(join(dir, 'shared.txt'), 'shared\n');
  writeFileSync(join(dir, 'api.txt'), 'api\n');
  writeFileSync(join(dir, 'web.txt'), 'web\n');
  const base = stage('base').from('scratch').copy('shared.txt', '/shared.txt');
  const definition = define({
    targets: {
      api: {
        stage: stage('api').from(base).copy('api.txt', '/api.txt'),
        tags: ['r.example/api:1'],
        labels: { team: 'api' },
        output: `type=oci-archive,dest=${join(dir, 'api.tar')}`,
      },
      web: {
        stage: stage('web').from(base).copy('web.txt', '/web.txt'),
        output: [`type=oci,dest=${join(dir, 'web')}`],
      },
      other: stage('other').from('scratch'),
    },
    groups: { default: ['api', 'web'] },
  });
  const options = { contextDir: dir, cacheDir: join(dir, 'cache') };
  const stages = new Set<string>();
  const result = await bake(definition, {
    ...options,
    onEvent: (e) => e.type === 'step-finished' && stages.add(e.stage),
  });
  // progress names the target before each stage, as both build a stage named base
  expect([...stages].sort()).toEqual(['api api', 'api base', 'web base', 'web web']);
  expect(Object.keys(result.targets)).toEqual(['api', 'web']);
  const api = result.targets.api;
  const web = result.targets.web;
  // The shared COPY ran for one target; the other waited and took it from the cache.
  const shared = [api, web].map(
    (t) => t?.steps.find((s) => s.text === 'COPY shared.txt /shared.txt')?.cached,
  );
  expect(shared.sort()).toEqual([false, true]);
  expect(await (await readOciArchive(join(dir, 'api.tar'))).digest()).toBe(api?.digest);
  const config = await (await readOciArchive(join(dir, 'api.tar'))).config();
  expect(config.config?.Labels).toEqual({ team: 'api' });
  expect(bakeMetadata(result).api).toEqual({
    'containerimage.digest': api?.digest,
    'containerimage.config.digest': api?.imageId,
    'image.name': 'r.example/api:1',
    'wharf.pushed': [],
  });
  expect(result.pushStats).toBeUndefined();
  // again: everything from the cache, the same digests
  const again = await bake(definition, { ...options, targets: ['web', 'api'], concurrency: 1 });
  expect(Object.keys(again.targets)).toEqual(['web', 'api']);
  expect(again.targets.api?.digest).toBe(api?.digest);
  expect(again.targets.web?.steps.filter((s) => !s.cached)).toEqual([]);
});

it('a failing target fails the bake with its error, after the others finished', async () => {
  const definition = define({
    targets: {
      good: stage('good').from('scratch').copy('shared.txt', '/s'),
      bad: stage('bad').from('scratch').copy('missing.txt', '/m'),
    },
  });
  await expect(bake(definition, { contextDir: dir, cacheDir: join(dir, 'cache') })).rejects.toThrow(
    /missing\.txt/,
  );
});
