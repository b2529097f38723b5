// examples/node-app with the direct backend through the CLI: `FROM node:20-alpine` pulled through the
// loopback mirror, `npm ci` in runc, multi-stage COPY --from; the image runs in Docker, answers its health
// check as the non-root `node` user; a one-line change in src/ rebuilds only the layers after it.
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BuildEvent } from '@wharf/core';
import { describe, expect, it } from 'vitest';
import { wharfAsync } from '../helpers/cli.js';
import { docker, dockerInspectImage } from '../helpers/docker.js';
import { noDocker, testEnv } from '../helpers/env.js';
import { sleep } from '../helpers/exec.js';
import { repoRoot, tempDir } from '../helpers/paths.js';

type StepFinished = Extract<BuildEvent, { type: 'step-finished' }>;

/** `wharf build` of a node-app copy; the JSON progress events come back parsed. */
async function build(definition: string, cacheDir: string, extra: readonly string[] = []) {
  const result = await wharfAsync([
    'build',
    definition,
    '--registry-mirror',
    testEnv().mirror.url,
    '--cache-dir',
    cacheDir,
    '--progress',
    'json',
    ...extra,
  ]);
  if (result.code !== 0) throw new Error(`wharf build failed (${result.code}):\n${result.stderr}`);
  const events = result.stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as BuildEvent);
  const steps = events.filter((e): e is StepFinished => e.type === 'step-finished');
  return { digest: result.stdout.trim(), events, steps };
}

/** Steps that made (or reused) a layer, as `stage step`, with their cache outcome. */
const layerSteps = (steps: readonly StepFinished[]) =>
  new Map(
    steps
      .filter((s) => s.layer !== undefined)
      .map((s) => [`${s.stage} ${s.step}`, { text: s.text, cached: s.cached === true, miss: s.miss }]),
  );

/** A copy of examples/node-app (without its node_modules link farm) that a test may edit. */
function nodeAppCopy(): string {
  const dir = join(tempDir('wharf-node-app-'), 'node-app');
  cpSync(join(repoRoot, 'examples/node-app'), dir, {
    recursive: true,
    filter: (src) => !src.includes('node_modules'),
  });
  return dir;
}

async function waitForHealth(container: string, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await docker(['exec', container, 'wget', '-qO-', 'http://127.0.0.1:3000/health']);
    } catch (error) {
      if (Date.now() > deadline) {
        const logs = await docker(['logs', container]).catch(() => '');
        throw new Error(`no health answer within ${timeoutMs} ms: ${(error as Error).message}\n${logs}`);
      }
      await sleep(250);
    }
  }
}

describe.skipIf(noDocker())('examples/node-app with the direct backend', () => {
  it('builds through the CLI, loads into Docker, answers its health check as node', async () => {
    const dir = tempDir('wharf-node-app-out-');
    const file = join(dir, 'node-app.docker.tar');
    const tag = 'wharf-e2e/node-app:direct';
    const started = Date.now();
    const { digest } = await build(join(repoRoot, 'examples/node-app/build.ts'), join(dir, 'cache'), [
      '-o',
      `type=docker-archive,dest=${file}`,
      '-t',
      tag,
    ]);
    const buildMs = Date.now() - started;
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await docker(['load', '-i', file])).toContain(`Loaded image: ${tag}`);
    const inspected = await dockerInspectImage(tag);
    // With only a docker-archive, stdout is the image ID, as `docker build -q` prints it.
    expect(inspected.Id).toBe(digest);
    const config = inspected.Config;
    expect(config).toMatchObject({
      User: 'node',
      WorkingDir: '/app',
      Cmd: ['node', 'dist/server.js'],
      ExposedPorts: { '3000/tcp': {} },
    });
    expect(config.Env).toEqual(expect.arrayContaining(['NODE_ENV=production', 'PORT=3000']));

    const container = (await docker(['run', '-d', tag])).trim();
    try {
      expect(await waitForHealth(container)).toBe('ok\n');
      // The server (pid 1) runs as node; files the image gives it are node's.
      expect(await docker(['exec', container, 'stat', '-c', '%U', '/proc/1'])).toBe('node\n');
      expect(await docker(['exec', container, 'id', '-un'])).toBe('node\n');
      expect(await docker(['exec', container, 'stat', '-c', '%U:%G', '/app/dist/server.js'])).toBe(
        'node:node\n',
      );
      expect(await docker(['exec', container, 'wget', '-qO-', 'http://127.0.0.1:3000/'])).toMatch(
        /node-app on v\d+/,
      );
    } finally {
      await docker(['rm', '-f', container]).catch(() => '');
      await docker(['rmi', '-f', tag]).catch(() => '');
    }
    console.log(`node-app cold direct build (CLI, fresh cache): ${buildMs} ms`);
  });

  it('after a one-line change in src/, only the layers after it are rebuilt; no change: all cached', async () => {
    const app = nodeAppCopy();
    const definition = join(app, 'build.ts');
    const cacheDir = join(tempDir('wharf-node-app-cache-'), 'cache');
    const timed = async <T>(f: () => Promise<T>): Promise<[T, number]> => {
      const t0 = Date.now();
      return [await f(), Date.now() - t0];
    };

    const [cold, coldMs] = await timed(() => build(definition, cacheDir));
    const server = join(app, 'app/src/server.js');
    const source = readFileSync(server, 'utf8');
    const changed = source.replace("end('ok\\n')", "end('ok, changed\\n')");
    expect(changed).not.toBe(source);
    writeFileSync(server, changed);

    const [warm, warmMs] = await timed(() => build(definition, cacheDir));
    expect(warm.digest).not.toBe(cold.digest);
    const steps = layerSteps(warm.steps);
    // Every layer step of the build, in this order per stage; the change is in build's `COPY . .`.
    const rebuilt = ['build 5', 'build 6', 'runtime 4', 'runtime 5'];
    expect([...steps.keys()].sort()).toEqual(
      [
        'deps 1',
        'deps 2',
        'deps 3',
        'deps 4',
        'build 1',
        'build 2',
        'build 3',
        'build 4',
        'build 5',
        'build 6',
        'runtime 1',
        'runtime 3',
        'runtime 4',
        'runtime 5',
      ].sort(),
    );
    for (const [key, step] of steps) {
      if (rebuilt.includes(key)) {
        expect(step, key).toMatchObject({ cached: false, miss: expect.any(String) });
      } else {
        expect(step, key).toMatchObject({ cached: true });
        expect(step.miss, key).toBeUndefined();
      }
    }
    expect(steps.get('build 5')).toMatchObject({
      text: 'COPY . .',
      miss: 'context file src/server.js changed (copied to /app/src/server.js)',
    });
    // The steps after it say why they ran (an earlier step / the stage they copy from changed).
    for (const key of ['build 6', 'runtime 4', 'runtime 5'])
      expect(steps.get(key)?.miss, key).not.toMatch(/src\/server\.js/);

    const [again, againMs] = await timed(() => build(definition, cacheDir));
    expect(again.digest).toBe(warm.digest);
    const all = layerSteps(again.steps);
    expect(all.size).toBe(14);
    for (const [key, step] of all) expect(step, key).toMatchObject({ cached: true });
    console.log(`node-app via CLI: cold ${coldMs} ms, one-file change ${warmMs} ms, no change ${againMs} ms`);
  });
});
