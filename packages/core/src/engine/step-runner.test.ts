import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StepCache, stepKey } from '../cache/step-cache.js';
import { writeLayer } from '../layer/layer-writer.js';
import { type BlobStore, openStore } from '../store/store.js';
import { type Executed, type FinishedStep, type StepFacts, StepRunner } from './step-runner.js';

let dir: string;
let store: BlobStore;
let cache: StepCache;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wharf-step-runner-'));
  store = await openStore({ root: join(dir, 'store') });
  cache = new StepCache(store.root);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const facts = (instruction: string, files: Record<string, string> = {}): StepFacts => ({
  config: '{}',
  args: [],
  instruction,
  files,
  epoch: 0,
});

/** A step that writes one file whose content is `text`, counting how often it ran. */
function writing(text: string, runs: { count: number }): () => Promise<Executed> {
  return async () => {
    runs.count++;
    const data = Buffer.from(text);
    const file = { kind: 'bytes', data } as const;
    const entry = {
      type: 'file',
      path: 'f',
      mode: 0o644,
      uid: 0,
      gid: 0,
      size: data.length,
      content: file,
    } as const;
    const layer = await writeLayer(store, [entry], { mtime: 0, compression: 'none' });
    return { layer };
  };
}

function reports(): { events: FinishedStep[]; report: { finished(result?: FinishedStep): void } } {
  const events: FinishedStep[] = [];
  return { events, report: { finished: (result = {}) => events.push(result) } };
}

describe('StepRunner', () => {
  it('executes on a miss, records, and takes the layer from the cache next time', async () => {
    const runs = { count: 0 };
    const first = reports();
    const step = { slot: 's0', facts: facts('COPY f /f', { f: 'sha256:1' }), execute: writing('one', runs) };
    const made = await new StepRunner({ store, cache, noCache: false, baseKey: 'base' }).run(
      step,
      first.report,
    );
    expect(made).toMatchObject({ kind: 'layer', cached: false });
    expect(first.events).toEqual([{ layer: expect.any(Object), cached: false }]);

    const again = reports();
    const hit = await new StepRunner({ store, cache, noCache: false, baseKey: 'base' }).run(
      step,
      again.report,
    );
    expect(hit).toMatchObject({ kind: 'layer', cached: true });
    expect(runs.count).toBe(1);
    expect(again.events[0]?.cached).toBe(true);
    if (made.kind === 'layer' && hit.kind === 'layer')
      expect(await hit.layer.digest()).toBe(await made.layer.digest());
  });

  it('runs a step two concurrent runners reach once: the second waits and takes it from the cache', async () => {
    const runs = { count: 0 };
    const step = { slot: 's0', facts: facts('RUN shared'), execute: writing('shared', runs) };
    const [a, b] = [reports(), reports()];
    // Two runners (two builds over one cache, each with its own StepCache value) reach one key at once.
    const [one, two] = await Promise.all([
      new StepRunner({ store, cache, noCache: false, baseKey: 'base' }).run(step, a.report),
      new StepRunner({ store, cache: new StepCache(store.root), noCache: false, baseKey: 'base' }).run(
        step,
        b.report,
      ),
    ]);
    expect(runs.count).toBe(1);
    expect([one.cached, two.cached].sort()).toEqual([false, true]);
    const failing = { ...step, facts: facts('RUN fails'), execute: () => Promise.reject(new Error('boom')) };
    const settled = await Promise.allSettled([
      new StepRunner({ store, cache, noCache: false, baseKey: 'base' }).run(failing, a.report),
      new StepRunner({ store, cache, noCache: false, baseKey: 'base' }).run(failing, b.report),
    ]);
    // A failure does not stick: the waiter runs the step itself (and fails on its own).
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
  });

  it('explains a miss against the last build at the same slot, and says --no-cache', async () => {
    const runs = { count: 0 };
    await new StepRunner({ store, cache, noCache: false, baseKey: 'base' }).run(
      { slot: 's0', facts: facts('COPY f /f', { f: 'sha256:1' }), execute: writing('one', runs) },
      reports().report,
    );
    const changed = reports();
    await new StepRunner({ store, cache, noCache: false, baseKey: 'base' }).run(
      { slot: 's0', facts: facts('COPY f /f', { f: 'sha256:2' }), execute: writing('two', runs) },
      changed.report,
    );
    expect(changed.events[0]?.miss).toContain('f');
    const forced = reports();
    await new StepRunner({ store, cache, noCache: true, baseKey: 'base' }).run(
      { slot: 's0', facts: facts('COPY f /f', { f: 'sha256:2' }), execute: writing('two', runs) },
      forced.report,
    );
    expect(forced.events[0]).toMatchObject({ cached: false, miss: '--no-cache' });
    expect(runs.count).toBe(3);
  });

  it('records a step that made no layer as a hit-empty, unless the step always makes one', async () => {
    let runs = 0;
    const empty = async (): Promise<Executed> => {
      runs++;
      return {};
    };
    const step = { slot: 's0', facts: facts('RUN true'), execute: empty };
    const key = stepKey({ parent: 'b', parentIsBase: true, ...facts('RUN true') });
    expect(
      await new StepRunner({ store, cache, noCache: false, baseKey: 'b' }).run(step, reports().report),
    ).toEqual({
      kind: 'empty',
      cached: false,
      key,
    });
    expect(await cache.get(key)).toEqual({ kind: 'hit-empty' });
    expect(
      await new StepRunner({ store, cache, noCache: false, baseKey: 'b' }).run(step, reports().report),
    ).toEqual({
      kind: 'empty',
      cached: true,
      key,
    });
    expect(runs).toBe(1);
    const layers = { count: 0 };
    const always = { ...step, alwaysLayer: true, execute: writing('x', layers) };
    const outcome = await new StepRunner({ store, cache, noCache: false, baseKey: 'b' }).run(
      always,
      reports().report,
    );
    expect(outcome).toMatchObject({ kind: 'layer', cached: false });
    expect(layers.count).toBe(1);
  });

  it('runs a hit again when its blob left the store', async () => {
    const runs = { count: 0 };
    const step = { slot: 's0', facts: facts('COPY f /f'), execute: writing('one', runs) };
    const made = await new StepRunner({ store, cache, noCache: false, baseKey: 'b' }).run(
      step,
      reports().report,
    );
    if (made.kind !== 'layer') throw new Error('expected a layer');
    await rm(store.path(await made.layer.digest()));
    const again = await new StepRunner({ store, cache, noCache: false, baseKey: 'b' }).run(
      step,
      reports().report,
    );
    expect(again).toMatchObject({ kind: 'layer', cached: false });
    expect(runs.count).toBe(2);
  });

  it('chains keys: a later step keys on the earlier one, and a probe only takes hits', async () => {
    const runs = { count: 0 };
    const runner = new StepRunner({ store, cache, noCache: false, baseKey: 'b' });
    expect(await runner.probe('s0', facts('COPY --from=x / /'), reports().report)).toBeUndefined();
    await runner.run(
      { slot: 's0', facts: facts('COPY --from=x / /'), execute: writing('a', runs) },
      reports().report,
    );
    await runner.run(
      { slot: 's1', facts: facts('COPY g /g'), execute: writing('b', runs) },
      reports().report,
    );

    const next = new StepRunner({ store, cache, noCache: false, baseKey: 'b' });
    const probed = reports();
    expect(await next.probe('s0', facts('COPY --from=x / /'), probed.report)).toBeDefined();
    expect(probed.events[0]?.cached).toBe(true);
    const second = await next.run(
      { slot: 's1', facts: facts('COPY g /g'), execute: writing('b', runs) },
      reports().report,
    );
    expect(second).toMatchObject({ cached: true });
    // on another base the same second step misses: its key covers the chain below it
    const other = new StepRunner({ store, cache, noCache: false, baseKey: 'other' });
    const missed = await other.run(
      { slot: 's1', facts: facts('COPY g /g'), execute: writing('b', runs) },
      reports().report,
    );
    expect(missed).toMatchObject({ cached: false });
    expect(runs.count).toBe(3);
  });

  it('replays a key: a hit that moves the chain on, none without lookups, with --cache-to, or without the blob', async () => {
    const runs = { count: 0 };
    const step = { slot: 's0', facts: facts('COPY f /f', { f: 'sha256:1' }), execute: writing('one', runs) };
    const made = await new StepRunner({ store, cache, noCache: false, baseKey: 'b' }).run(
      step,
      reports().report,
    );
    const runner = new StepRunner({ store, cache, noCache: false, baseKey: 'b' });
    expect(runner.chain).toBe('b');
    const replayed = reports();
    expect(await runner.replay('s0', made.key, replayed.report)).toBeDefined();
    expect(runner.chain).toBe(made.key);
    expect(replayed.events).toEqual([{ layer: expect.any(Object), cached: true }]);
    expect(await runner.replay('s0', 'f'.repeat(64), reports().report)).toBeUndefined(); // no record
    expect(runner.chain).toBe(made.key);

    const off = [
      new StepRunner({ store, cache, noCache: true, baseKey: 'b' }),
      new StepRunner({ store, cache, noCache: false, baseKey: 'b', onRecord: () => {} }),
    ];
    for (const other of off) {
      expect(other.replays).toBe(false);
      expect(await other.replay('s0', made.key, reports().report)).toBeUndefined();
    }
    if (made.kind !== 'layer') throw new Error('expected a layer');
    await rm(store.path(await made.layer.digest()));
    expect(
      await new StepRunner({ store, cache, noCache: false, baseKey: 'b' }).replay(
        's0',
        made.key,
        reports().report,
      ),
    ).toBeUndefined();
    expect(runs.count).toBe(1);
  });
});
