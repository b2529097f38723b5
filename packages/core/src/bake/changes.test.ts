import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { define, toGraph } from '../dsl/graph.js';
import { bind } from '../dsl/mounts.js';
import { stage } from '../dsl/stage.js';
import { context } from '../dsl/values.js';
import type { BuildGraph } from '../ir/types.js';
import { changedFiles, definitionModules, targetChanges } from './changes.js';

const dir = mkdtempSync(join(tmpdir(), 'wharf-changes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const git = (...args: string[]) =>
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
    cwd: dir,
    encoding: 'utf8',
  });
const write = (path: string, text: string) => {
  mkdirSync(dirname(join(dir, path)), { recursive: true });
  writeFileSync(join(dir, path), text);
};

let graphs: Map<string, BuildGraph>;

beforeAll(() => {
  write('build.ts', "import { registry } from './lib/registry.js';\n");
  write('lib/registry.ts', "export const registry = 'r.example';\n");
  write('repo/.dockerignore', '**/*.md\n');
  write('repo/package.json', '{}\n');
  write('repo/packages/greeting/index.js', 'export {}\n');
  write('repo/services/api/main.js', '1\n');
  write('repo/services/web/main.js', '1\n');
  write('repo/tools/gen.sh', '#!/bin/sh\n');
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-q', '-m', 'one');
  const base = stage('base').from('node:20').copy(['package.json'], './').copy('packages', './packages');
  const service = (name: string) => stage(name).from(base).copy(`services/${name}`, `./services/${name}`);
  const tools = stage('tools')
    .from('busybox')
    .run('sh /t/gen.sh', { mounts: [bind('/t', { source: 'tools' })] });
  const definition = define({
    context: context('repo'),
    targets: { api: service('api'), web: service('web'), tools },
  });
  graphs = new Map(['api', 'web', 'tools'].map((name) => [name, toGraph(definition, { target: name })]));
});

const decide = async () =>
  Object.fromEntries(
    targetChanges(graphs, await changedFiles(dir, 'main'), {
      contextDir: dir,
      definitionFile: join(dir, 'build.ts'),
    }),
  );

it('builds the targets that read a changed file; says why the others are skipped', async () => {
  expect(Object.values(await decide()).map((c) => c.build)).toEqual([false, false, false]);
  write('repo/services/web/main.js', '2\n');
  write('repo/services/api/NOTES.md', 'ignored by .dockerignore\n'); // untracked, but not in the context
  const sha = git('rev-parse', '--short=7', 'HEAD').trim();
  expect(await decide()).toEqual({
    web: { build: true, reason: `repo/services/web/main.js changed since main (${sha})` },
    api: {
      build: false,
      reason: `none of its inputs changed since main (${sha}) (2 files changed; it reads repo/package.json, repo/packages, repo/services/api)`,
    },
    tools: {
      build: false,
      reason: `none of its inputs changed since main (${sha}) (2 files changed; it reads repo/tools)`,
    },
  });
  // a staged change to the shared library: both services
  write('repo/packages/greeting/index.js', 'export const x = 1\n');
  git('add', 'repo/packages/greeting/index.js');
  const both = await decide();
  expect([both.api?.build, both.web?.build, both.tools?.build]).toEqual([true, true, false]);
  expect(both.api?.reason).toMatch(/^repo\/packages\/greeting\/index\.js changed/);
  // a RUN bind mount's source is an input; a deleted file counts
  rmSync(join(dir, 'repo/tools/gen.sh'));
  expect((await decide()).tools).toMatchObject({
    build: true,
    reason: expect.stringMatching(/^repo\/tools\/gen\.sh changed/),
  });
  // the .dockerignore decides what every target sees
  write('repo/.dockerignore', '**/*.md\n*.tmp\n');
  expect(Object.values(await decide()).every((c) => c.build)).toBe(true);
  git('checkout', '-q', '--', '.');
  git('reset', '-q', '--hard');
  git('clean', '-fdq');
});

it('a change in the definition or a module it imports builds every target', async () => {
  expect(definitionModules(join(dir, 'build.ts')).map((f) => f.slice(f.lastIndexOf('/') + 1))).toEqual([
    'build.ts',
    'registry.ts',
  ]);
  write('lib/registry.ts', "export const registry = 'r2.example';\n");
  const changes = await decide();
  expect(Object.values(changes).every((c) => c.build)).toBe(true);
  expect(changes.api?.reason).toMatch(/^lib\/registry\.ts \(the build definition\) changed since main/);
  git('checkout', '-q', '--', '.');
});

it('a bad ref is one clear error; an option-like ref is refused before git sees it', async () => {
  await expect(changedFiles(dir, 'no-such-branch')).rejects.toThrow(
    /--changed-since no-such-branch: no commit of that name in/,
  );
  await expect(changedFiles(dir, '--output=/tmp/x')).rejects.toMatchObject({ code: 'BAKE_BAD_REF' });
  await expect(changedFiles(tmpdir(), 'main')).rejects.toMatchObject({ code: 'GIT_NOT_A_REPOSITORY' });
});

it('a named context’s ignore rules decide its inputs (a workspace subset leaves other packages out)', async () => {
  const subset = context('repo', { name: 'api-workspace' }).ignore(['*', '!package.json', '!services/api']);
  const api = toGraph(define({ target: stage('api').from('node:20').copy(subset, '.', '/repo') }));
  const decideApi = async () =>
    targetChanges(new Map([['api', api]]), await changedFiles(dir, 'main'), { contextDir: dir }).get('api');
  write('repo/packages/greeting/index.js', 'export const y = 2\n');
  expect(await decideApi()).toMatchObject({ build: false });
  write('repo/services/api/main.js', '3\n');
  expect(await decideApi()).toMatchObject({
    build: true,
    reason: expect.stringMatching(/^repo\/services\/api\/main\.js changed/),
  });
  git('checkout', '-q', '--', '.');
});
