import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { browsableUrl, gitLabels, gitState, imageTags, packageVersion, semverTags } from './git.js';

const root = mkdtempSync(join(tmpdir(), 'wharf-git-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => vi.unstubAllEnvs());

/** A fresh repository with one commit at a fixed time. */
function repo(name: string): { dir: string; git: (...args: string[]) => string } {
  const dir = join(root, name);
  mkdirSync(dir);
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
      cwd: dir,
      encoding: 'utf8',
      env: {
        ...process.env,
        GIT_AUTHOR_DATE: '1700000000 +0000',
        GIT_COMMITTER_DATE: '1700000000 +0000',
      },
    });
  git('init', '-q', '-b', 'main');
  writeFileSync(join(dir, 'a.txt'), 'a\n');
  git('add', 'a.txt');
  git('commit', '-q', '-m', 'one');
  return { dir, git };
}

describe('gitState', () => {
  it('reads commit, branch, tags, dirty flag, commit time and a credential-free origin', async () => {
    const { dir, git } = repo('state');
    git('tag', 'v1.2.3');
    git('tag', 'v1.10.0');
    git('tag', 'nightly');
    git('remote', 'add', 'origin', 'https://user:s3cret@git.example.com/acme/mono.git');
    const sha = git('rev-parse', 'HEAD').trim();
    const state = await gitState(dir);
    expect(state).toEqual({
      commit: sha,
      shortCommit: sha.slice(0, 7),
      branch: 'main',
      tags: ['v1.10.0', 'v1.2.3', 'nightly'],
      tag: 'v1.10.0',
      dirty: false,
      commitTime: 1700000000,
      source: 'https://git.example.com/acme/mono',
    });
    // read once per folder per process
    expect(gitState(dir)).toBe(gitState(dir));
  });

  it('a detached HEAD has no branch; an untracked file makes the checkout dirty', async () => {
    const { dir, git } = repo('detached');
    git('checkout', '-q', '--detach');
    writeFileSync(join(dir, 'new.txt'), 'x');
    const state = await gitState(dir);
    expect(state.branch).toBeUndefined();
    expect(state.tag).toBeUndefined();
    expect(state.dirty).toBe(true);
    expect(state.source).toBeUndefined();
  });

  it('never runs the checkout’s core.fsmonitor program', async () => {
    const { dir, git } = repo('hostile');
    const marker = join(root, 'fsmonitor-ran');
    writeFileSync(join(dir, 'monitor.sh'), `#!/bin/sh\ntouch ${marker}\n`, { mode: 0o755 });
    git('config', 'core.fsmonitor', join(dir, 'monitor.sh'));
    await gitState(dir);
    expect(existsSync(marker)).toBe(false);
  });

  it('outside a repository: one clear error', async () => {
    const dir = join(root, 'plain');
    mkdirSync(dir);
    await expect(gitState(dir)).rejects.toMatchObject({
      code: 'GIT_NOT_A_REPOSITORY',
      message: `${dir} is not in a git checkout with a commit`,
    });
  });
});

describe('tags and labels', () => {
  const git = {
    commit: '0123456789abcdef0123456789abcdef01234567',
    shortCommit: '0123456',
    tags: [],
    dirty: false,
    commitTime: 1700000000,
    source: 'https://git.example.com/acme/mono',
  };

  it('semver expansions', () => {
    expect(semverTags('v1.2.3')).toEqual(['1.2.3', '1.2', '1']);
    expect(semverTags('1.0.0+build.5')).toEqual(['1.0.0', '1.0', '1']);
    expect(semverTags('0.4.1')).toEqual(['0.4.1', '0.4']);
    expect(semverTags('2.0.0-rc.1')).toEqual(['2.0.0-rc.1']);
    expect(() => semverTags('1.2')).toThrow('"1.2" is not a semantic version (MAJOR.MINOR.PATCH)');
    expect(() => semverTags('01.2.3')).toThrow(/not a semantic version/);
  });

  it('image tags: versions, sha-<short> (marked dirty), latest only for releases', () => {
    expect(imageTags('r.example/api', { version: 'v1.2.3', git, latest: true })).toEqual([
      'r.example/api:1.2.3',
      'r.example/api:1.2',
      'r.example/api:1',
      'r.example/api:latest',
      'r.example/api:sha-0123456',
    ]);
    expect(imageTags('r.example/api', { version: '2.0.0-rc.1', latest: true })).toEqual([
      'r.example/api:2.0.0-rc.1',
    ]);
    expect(imageTags('r.example/api', { git: { ...git, dirty: true } })).toEqual([
      'r.example/api:sha-0123456-dirty',
    ]);
    expect(() => imageTags('r.example/api', {})).toThrow(/nothing to tag with/);
  });

  it('OCI labels: created from SOURCE_DATE_EPOCH, else the commit time — never the clock', () => {
    expect(gitLabels({ git, version: 'v1.2.3' })).toEqual({
      'org.opencontainers.image.revision': git.commit,
      'org.opencontainers.image.source': 'https://git.example.com/acme/mono',
      'org.opencontainers.image.version': '1.2.3',
      'org.opencontainers.image.created': '2023-11-14T22:13:20.000Z',
    });
    vi.stubEnv('SOURCE_DATE_EPOCH', '0');
    expect(gitLabels({ git })['org.opencontainers.image.created']).toBe('1970-01-01T00:00:00.000Z');
    vi.stubEnv('SOURCE_DATE_EPOCH', 'yesterday');
    expect(() => gitLabels({ git })).toThrow(/SOURCE_DATE_EPOCH="yesterday" is not a number/);
    vi.stubEnv('SOURCE_DATE_EPOCH', '');
    expect(gitLabels({ version: 'edge' })).toEqual({ 'org.opencontainers.image.version': 'edge' });
  });

  it('remote URLs become browsable addresses without credentials', () => {
    expect(browsableUrl('git@github.com:acme/mono.git')).toBe('https://github.com/acme/mono');
    expect(browsableUrl('ssh://git@git.example.com:2222/acme/mono.git')).toBe(
      'https://git.example.com/acme/mono',
    );
    expect(browsableUrl('https://x-access-token:ghs_abc@github.com/acme/mono')).toBe(
      'https://github.com/acme/mono',
    );
    expect(browsableUrl('/srv/git/mono.git')).toBeUndefined();
    expect(browsableUrl('file:///srv/git/mono.git')).toBeUndefined();
  });

  it('packageVersion reads a package.json; a missing version is one clear error', async () => {
    const dir = join(root, 'pkg');
    mkdirSync(dir);
    writeFileSync(join(dir, 'package.json'), '{"name":"api","version":"1.4.0"}');
    expect(await packageVersion(dir)).toBe('1.4.0');
    writeFileSync(join(dir, 'package.json'), '{"name":"api"}');
    await expect(packageVersion(dir)).rejects.toThrow(`${join(dir, 'package.json')} has no "version"`);
    await expect(packageVersion(join(root, 'nope'))).rejects.toMatchObject({ code: 'BAKE_BAD_PACKAGE' });
  });

  it('packageVersion reads a package.json of many pieces whole, and refuses one past 1 MiB', async () => {
    const dir = join(root, 'big');
    mkdirSync(dir);
    const padded = (bytes: number) => `{"version":"2.0.0","pad":"${'x'.repeat(bytes - 28)}"}`;
    writeFileSync(join(dir, 'package.json'), padded(1024 * 1024)); // exactly the limit: read whole
    expect(await packageVersion(dir)).toBe('2.0.0');
    writeFileSync(join(dir, 'package.json'), padded(1024 * 1024 + 1));
    await expect(packageVersion(dir)).rejects.toThrow('larger than 1 MiB');
  });
});
