import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { lowerDockerfile } from '../../dockerfile/index.js';
import { define, toGraph } from '../../dsl/graph.js';
import { type Stage, stage } from '../../dsl/stage.js';
import { context } from '../../dsl/values.js';
import { planCopy } from '../../layer/copy-plan.js';
import { openStore } from '../../store/store.js';
import { buildGraph } from '../build.js';

// Passed through, and counted: a replayed COPY is not planned.
vi.mock('../../layer/copy-plan.js', async (original) => {
  const actual = await original<typeof import('../../layer/copy-plan.js')>();
  return { ...actual, planCopy: vi.fn(actual.planCopy) };
});

const scratch = mkdtempSync(join(tmpdir(), 'wharf-copy-replay-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let ctx: string;
let cacheRoot: string;
beforeEach(() => {
  ctx = mkdtempSync(join(scratch, 'ctx-'));
  cacheRoot = mkdtempSync(join(scratch, 'cache-'));
  mkdirSync(join(ctx, 'deps/pkg/lib'), { recursive: true });
  for (let i = 0; i < 5; i++) writeFileSync(join(ctx, `deps/pkg/lib/m${i}.js`), `module ${i}`);
  writeFileSync(join(ctx, 'deps/pkg/index.js'), 'index');
  writeFileSync(join(ctx, 'deps/pkg/notes.md'), 'ignored');
  mkdirSync(join(ctx, 'src'));
  writeFileSync(join(ctx, 'src/app.js'), 'app');
});

/** A node-style app: dependencies, then sources into a directory the first COPY made. */
const app = (env = 'production'): Stage =>
  stage('app')
    .from('scratch')
    .workdir('/app')
    .copy('deps', './node_modules')
    .env({ NODE_ENV: env })
    .copy('src', './node_modules/pkg/src');

interface Built {
  readonly digest: string;
  /** Per layer step: `hit`, or the miss explanation. */
  readonly steps: string[];
  /** The destinations of the COPYs that were planned (the others were replayed, or not reached). */
  readonly planned: string[];
}

async function build(
  options: { target?: Stage; dockerfile?: string; ignore?: string[]; cache?: string; noCache?: boolean } = {},
): Promise<Built> {
  const target = options.target ?? app();
  const graph = options.dockerfile
    ? lowerDockerfile(options.dockerfile)
    : toGraph(define({ target, context: context('.').ignore(options.ignore ?? ['**/*.md']) }));
  const store = await openStore({ root: options.cache ?? cacheRoot });
  const finished: { step: number; cached?: boolean; miss?: string }[] = [];
  const before = vi.mocked(planCopy).mock.calls.length;
  const result = await buildGraph(graph, {
    contextDir: ctx,
    store,
    epoch: 0,
    ...(options.noCache ? { noCache: true } : {}),
    onEvent: (event) => {
      if (event.type === 'step-finished' && event.layer) finished.push(event);
    },
  });
  const steps = finished
    .sort((a, b) => a.step - b.step)
    .map((s) => (s.cached ? 'hit' : (s.miss ?? 'first build')));
  const planned = vi
    .mocked(planCopy)
    .mock.calls.slice(before)
    .map(([options]) => options.dest);
  return { digest: result.digest, steps, planned };
}

const BOTH = ['./node_modules', './node_modules/pkg/src'];

/** The digest the same build gives with an empty cache: what a replay must give too. */
const fresh = async (options: Parameters<typeof build>[0] = {}) =>
  (await build({ ...options, cache: mkdtempSync(join(scratch, 'fresh-')) })).digest;

describe('COPY replay (a warm COPY from the context without planning it)', () => {
  it('replays unchanged COPY steps, and gives the digest of a build with an empty cache', async () => {
    const cold = await build();
    expect(cold.steps).toEqual(['first build', 'first build', 'first build']);
    expect(cold.planned).toEqual(BOTH);
    const warm = await build();
    expect(warm.steps).toEqual(['hit', 'hit', 'hit']);
    expect(warm.planned).toEqual([]);
    expect(warm.digest).toBe(cold.digest);
    // the second COPY is planned over the view the first one's replay gave: same entries, same layer
    writeFileSync(join(ctx, 'src/app.js'), 'app v2');
    const changed = await build();
    expect(changed.steps).toEqual([
      'hit',
      'hit',
      'context file src/app.js changed (copied to /app/node_modules/pkg/src/app.js)',
    ]);
    expect(changed.planned).toEqual(['./node_modules/pkg/src']);
    expect(changed.digest).toBe(await fresh());
  });

  it.each([
    [
      'a file’s content',
      () => writeFileSync(join(ctx, 'deps/pkg/lib/m3.js'), 'module three'),
      'context file deps/pkg/lib/m3.js changed (copied to /app/node_modules/pkg/lib/m3.js)',
    ],
    [
      'a new file',
      () => writeFileSync(join(ctx, 'deps/pkg/lib/m9.js'), 'x'),
      'context file deps/pkg/lib/m9.js added (copied to /app/node_modules/pkg/lib/m9.js)',
    ],
    ['a mode', () => chmodSync(join(ctx, 'deps/pkg/index.js'), 0o600), undefined],
  ])('plans the COPY again after a change of %s, with the miss explained', async (_what, change, why) => {
    await build();
    change();
    const after = await build();
    expect(after.planned).toEqual(BOTH); // the second: an earlier step changed
    expect(after.steps[1]).not.toBe('hit');
    if (why) expect(after.steps[1]).toBe(why);
    expect(after.digest).toBe(await fresh());
  });

  it('plans again, and still hits, when only a file’s mtime changed (the stat cache re-hashes it)', async () => {
    const cold = await build();
    utimesSync(join(ctx, 'deps/pkg/index.js'), 1, 1);
    const touched = await build();
    expect(touched.steps).toEqual(['hit', 'hit', 'hit']);
    expect(touched.planned).toEqual(['./node_modules']);
    expect(touched.digest).toBe(cold.digest);
    expect((await build()).planned).toEqual([]); // recorded again
  });

  it('plans again when the ignore rules keep other files, or what the COPY builds on changed', async () => {
    await build();
    const unignored = await build({ ignore: [] });
    expect(unignored.steps[1]).toBe(
      'context file deps/pkg/notes.md added (copied to /app/node_modules/pkg/notes.md)',
    );
    expect(unignored.digest).toBe(await fresh({ ignore: [] }));
    // an ENV before the second COPY: its config, so its condition, differs
    const staging = await build({ target: app('staging') });
    expect(staging.steps).toEqual([
      'hit',
      'hit',
      'an earlier step changed; ENV NODE_ENV "production" → "staging"',
    ]);
    // the first COPY too: its record is the unignored build's, whose answers (notes.md) differ
    expect(staging.planned).toEqual(BOTH);
    expect((await build({ target: app('production') })).planned).toEqual(['./node_modules/pkg/src']);
    expect(staging.digest).toBe(await fresh({ target: app('staging') }));
  });

  it('plans again when the replayed key’s record or layer left the cache, and with --no-cache', async () => {
    const cold = await build();
    await rm(join(cacheRoot, 'steps'), { recursive: true, force: true });
    const pruned = await build();
    expect(pruned.planned).toEqual(BOTH);
    expect(pruned.digest).toBe(cold.digest);
    expect((await build({ noCache: true })).steps).toEqual(['--no-cache', '--no-cache', '--no-cache']);
  });

  it('takes the ARGs in scope where the COPY is, not those of later instructions', async () => {
    const before = 'FROM scratch\nARG UNUSED\nCOPY ./${V} /app/\nARG V=deps\n';
    const after = 'FROM scratch\nARG V=deps\nCOPY ./${V} /app/\n';
    await build({ dockerfile: before });
    const moved = await build({ dockerfile: after });
    expect(moved.planned).toEqual(['/app/']);
    expect(moved.digest).toBe(await fresh({ dockerfile: after }));
    // and a COPY followed by an ARG replays
    await build({ dockerfile: before });
    expect((await build({ dockerfile: before })).planned).toEqual([]);
  });

  it('plans again when a step below hits another layer under the same key (a RUN run again)', async () => {
    const steps = join(cacheRoot, 'steps');
    const target = (dir: string) => stage('app').from('scratch').workdir(dir).copy('deps', './node_modules');
    /** The records a build added: its WORKDIR's (the smaller layer) and its COPY's. */
    const added = async (dir: string): Promise<{ workdir: string; copy: string }> => {
      const had = new Set(existsSync(steps) ? readdirSync(steps) : []);
      await build({ target: target(dir) });
      const records = readdirSync(steps)
        .filter((name) => !had.has(name))
        .map((name) => ({
          name,
          size: JSON.parse(readFileSync(join(steps, name), 'utf8')).layer.size as number,
        }))
        .sort((a, b) => a.size - b.size);
      expect(records).toHaveLength(2);
      return {
        workdir: join(steps, records[0]?.name as string),
        copy: join(steps, records[1]?.name as string),
      };
    };
    const other = await added('/other');
    const app = await added('/app');
    expect((await build({ target: target('/app') })).planned).toEqual([]);
    // the /app WORKDIR's key now names another layer, as a RUN run again may have made
    const record = JSON.parse(readFileSync(app.workdir, 'utf8'));
    const otherLayer = JSON.parse(readFileSync(other.workdir, 'utf8')).layer;
    writeFileSync(app.workdir, JSON.stringify({ ...record, layer: otherLayer }));
    expect((await build({ target: target('/app') })).planned).toEqual(['./node_modules']);
  });
});
