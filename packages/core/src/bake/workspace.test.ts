import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { build } from '../build.js';
import { define } from '../dsl/graph.js';
import { stage } from '../dsl/stage.js';
import type { Image, Layer } from '../image/types.js';
import { readLayout } from '../layout/index.js';
import { TarReader } from '../tar/reader.js';
import { pnpmPackages, workspaceContext, workspaceSubset } from './workspace.js';

const dir = mkdtempSync(join(tmpdir(), 'wharf-workspace-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const write = (path: string, text: string) => {
  mkdirSync(dirname(join(dir, path)), { recursive: true });
  writeFileSync(join(dir, path), text);
};
const pkg = (path: string, name: string, deps: Record<string, string> = {}, devDeps = {}) =>
  write(`${path}/package.json`, JSON.stringify({ name, dependencies: deps, devDependencies: devDeps }));

describe('workspaceSubset', () => {
  it('pnpm: the package, its workspace dependencies transitively, and the root files', async () => {
    write(
      'pnpm/pnpm-workspace.yaml',
      "packages:\n  - 'packages/*'\n  - apps/**  # all apps\n  - '!apps/legacy'\n",
    );
    write('pnpm/pnpm-lock.yaml', 'lockfileVersion: 9\n');
    pkg('pnpm', 'root');
    pkg('pnpm/packages/util', '@x/util');
    pkg('pnpm/packages/log', '@x/log', { '@x/util': 'workspace:*' });
    pkg('pnpm/packages/ui', '@x/ui');
    pkg('pnpm/packages/config', '@x/config');
    pkg(
      'pnpm/apps/web/api',
      '@x/api',
      { '@x/log': 'workspace:^', express: '^4' },
      { '@x/config': 'workspace:*' },
    );
    pkg('pnpm/apps/legacy', '@x/legacy');
    pkg('pnpm/apps/web/api/node_modules/@x/ui', '@x/ui');
    expect(await workspaceSubset(join(dir, 'pnpm'), 'apps/web/api/')).toEqual({
      packages: ['apps/web/api', 'packages/log', 'packages/config', 'packages/util'],
      rootFiles: ['package.json', 'pnpm-lock.yaml', 'pnpm-workspace.yaml'],
    });
  });

  it('npm workspaces, and errors that name the input', async () => {
    write('npm/package.json', JSON.stringify({ workspaces: { packages: ['./libs/*', 'svc'] } }));
    write('npm/package-lock.json', '{}');
    pkg('npm/libs/a', 'a');
    pkg('npm/libs/b', 'b', { a: '*' });
    pkg('npm/svc', 'svc', { b: '^1' });
    expect(await workspaceSubset(join(dir, 'npm'), 'svc')).toEqual({
      packages: ['svc', 'libs/b', 'libs/a'],
      rootFiles: ['package.json', 'package-lock.json'],
    });
    await expect(workspaceSubset(join(dir, 'npm'), '../pnpm')).rejects.toThrow(
      '"../pnpm" is outside the workspace root',
    );
    write('plain/package.json', '{}');
    await expect(workspaceSubset(join(dir, 'plain'), 'x')).rejects.toMatchObject({
      code: 'BAKE_NOT_A_WORKSPACE',
    });
  });

  it('reads the block list of pnpm-workspace.yaml', () => {
    expect(pnpmPackages('# w\npackages:\n  - "a/*"\n\n  - b # c\ncatalog:\n  - nope\n')).toEqual([
      'a/*',
      'b',
    ]);
  });
});

it('a target built from its workspace context: an unrelated package’s change leaves its COPY cached', async () => {
  write('ws/package.json', JSON.stringify({ workspaces: ['packages/*', 'services/*'] }));
  write('ws/.dockerignore', '**/*.log\n');
  pkg('ws/packages/greeting', 'greeting');
  write('ws/packages/greeting/index.js', 'hi\n');
  pkg('ws/packages/other', 'other');
  write('ws/packages/other/index.js', '1\n');
  pkg('ws/services/api', 'api', { greeting: '*' });
  write('ws/services/api/main.js', 'api\n');
  write('ws/services/api/debug.log', 'noise\n');
  const options = { contextDir: dir, cacheDir: join(dir, 'cache') };
  const buildApi = async () => {
    const source = await workspaceContext({ root: 'ws', package: 'services/api', dir });
    const definition = define({ target: stage('api').from('scratch').copy(source, '.', '/repo') });
    const out = join(dir, `out-${Math.random()}`);
    const result = await build(definition, { ...options, output: `type=oci,dest=${out}` });
    return { result, out };
  };
  const first = await buildApi();
  expect(first.result.steps.map((s) => s.cached)).toEqual([false]);
  const image = await readLayout(first.out);
  const [layer] = await (image as Image).layers();
  const names: string[] = [];
  for await (const entry of new TarReader(await (layer as Layer).uncompressed())) names.push(entry.name);
  expect(names.filter((n) => !n.endsWith('/')).sort()).toEqual([
    'repo/package.json',
    'repo/packages/greeting/index.js',
    'repo/packages/greeting/package.json',
    'repo/services/api/main.js',
    'repo/services/api/package.json',
  ]);
  write('ws/packages/other/index.js', '2\n');
  expect((await buildApi()).result.steps.map((s) => s.cached)).toEqual([true]);
  write('ws/packages/greeting/index.js', 'hello\n');
  expect((await buildApi()).result.steps.map((s) => s.cached)).toEqual([false]);
});
