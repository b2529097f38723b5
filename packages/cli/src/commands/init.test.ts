import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { detectProject } from './init.js';

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A project folder with these files (paths → contents; objects are written as JSON). */
function project(files: Record<string, string | object>): string {
  const root = mkdtempSync(join(tmpdir(), 'wharf-init-'));
  made.push(root);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), typeof content === 'string' ? content : JSON.stringify(content));
  }
  return root;
}

const api = { name: 'api', scripts: { start: 'node server.js' } };

describe('wharf init: the command a Node workspace image runs', () => {
  it.each([
    ['pnpm', 'pnpm --filter api start', { 'pnpm-workspace.yaml': 'packages:\n  - "packages/*"\n' }, {}],
    ['npm', 'npm start -w api', {}, { workspaces: ['packages/*'] }],
    ['npm', 'npm run start --workspace=api', {}, { workspaces: ['packages/*'] }],
    ['yarn', 'yarn workspace api start', { 'yarn.lock': '' }, { workspaces: ['packages/*'] }],
  ])('%s: a root start of `%s` runs the package’s node file from its folder', (_pm, start, extra, root) => {
    const dir = project({
      'package.json': { name: 'mono', private: true, scripts: { start }, ...root },
      'packages/api/package.json': api,
      'packages/web/package.json': { name: 'web' },
      ...extra,
    });
    const { buildTs } = detectProject(dir);
    expect(buildTs).toContain("  .workdir('/app/packages/api')\n  .user('node')");
    expect(buildTs).toContain(".cmd(['node', 'server.js'])");
  });

  it('keeps `<pm> start` when the package it hands over to does not start with node <file>', () => {
    const dir = project({
      'package.json': { name: 'mono', scripts: { start: 'pnpm --filter api start' } },
      'pnpm-workspace.yaml': 'packages:\n  - "packages/*"\n',
      'packages/api/package.json': { name: 'api', scripts: { start: 'next start' } },
    });
    const { buildTs } = detectProject(dir);
    expect(buildTs).not.toContain("workdir('/app/packages");
    expect(buildTs).toContain(".cmd(['pnpm', 'start'])");
  });

  it('a start naming no workspace package is left as it is', () => {
    const dir = project({
      'package.json': { name: 'mono', scripts: { start: 'npm start -w nope' }, workspaces: ['packages/*'] },
      'packages/api/package.json': api,
    });
    expect(detectProject(dir).buildTs).toContain(".cmd(['npm', 'start'])");
  });

  it('keeps corepack’s compile cache out of the layers (a tmpfs on /tmp) for pnpm and yarn, not npm', () => {
    const files = { 'packages/api/package.json': api };
    const pnpm = detectProject(
      project({
        ...files,
        'package.json': { name: 'm' },
        'pnpm-workspace.yaml': 'packages:\n  - "packages/*"\n',
      }),
    ).buildTs;
    expect(pnpm).toContain("{ mounts: [cache.pnpm(), tmpfs('/tmp')] }");
    expect(pnpm).toContain("import { cache, define, http, ociLabels, stage, tmpfs } from '@wharf/core';");
    const npm = detectProject(project({ 'package.json': { name: 'm' } })).buildTs;
    expect(npm).not.toContain('tmpfs');
  });
});

describe('wharf init: a Python app', () => {
  it.each([
    ['requirements.txt', { 'requirements.txt': 'Flask==2.2.2\nclick==8.1.3\n', 'app.py': '' }],
    [
      'pyproject.toml',
      { 'pyproject.toml': '[project]\nname = "svc"\ndependencies = [\n  "fastapi>=0.100",\n]\n' },
    ],
  ])('with a web framework in %s is a service: EXPOSE 8000 and an http() health check', (_file, files) => {
    const { buildTs } = detectProject(project(files));
    expect(buildTs).toContain('  .expose(8000)');
    expect(buildTs).toContain(
      "  .healthcheck(http(8000, '/'), { interval: '30s', timeout: '3s', retries: 3 })",
    );
    expect(buildTs).toMatch(/^import \{ cache, define, http, nonRootUser, ociLabels, stage \}/m);
  });

  it('without one (a script or a worker) gets neither', () => {
    const { buildTs } = detectProject(project({ 'requirements.txt': 'requests==2.31.0\n', 'main.py': '' }));
    expect(buildTs).not.toContain('.expose(');
    expect(buildTs).not.toContain('healthcheck');
    expect(buildTs).toMatch(/^import \{ cache, define, nonRootUser, ociLabels, stage \}/m);
  });
});
