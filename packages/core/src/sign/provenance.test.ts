import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sha256Digest } from '../oci/index.js';
import { scratchDirs } from '../testing/scratch.js';
import { gitSource, redactRemote } from './git.js';
import { provenanceStatement } from './provenance.js';

const input = {
  subjects: [{ name: '127.0.0.1:5000/app', digest: sha256Digest('manifest') }],
  definition: { path: 'Dockerfile', digest: sha256Digest('FROM x') },
  target: 'app',
  buildArgs: { VERSION: '1.0' },
  platforms: ['linux/amd64'],
  bases: [{ reference: 'debian:12', digest: sha256Digest('base') }],
  context: { uri: 'file:///src', digest: sha256Digest('context') },
  git: { commit: 'a'.repeat(40), remote: 'https://example.com/app.git' },
  builder: { id: 'https://wharf.dev/builder/cli', version: '0.1.0' },
  invocationId: 'inv-1',
  startedOn: new Date('2024-01-01T00:00:00Z'),
  finishedOn: new Date('2024-01-01T00:01:00Z'),
  buildGraph: { stages: [{ name: 'app' }] },
};

describe('provenanceStatement', () => {
  it('is an in-toto v1 statement with the SLSA v1 predicate naming every input by digest', () => {
    const statement = JSON.parse(JSON.stringify(provenanceStatement(input)));
    expect(statement._type).toBe('https://in-toto.io/Statement/v1');
    expect(statement.predicateType).toBe('https://slsa.dev/provenance/v1');
    expect(statement.subject).toEqual([
      { name: '127.0.0.1:5000/app', digest: { sha256: sha256Digest('manifest').slice(7) } },
    ]);
    const { buildDefinition, runDetails } = statement.predicate;
    expect(buildDefinition.buildType).toMatch(/^https:\/\/wharf\.dev\//);
    expect(buildDefinition.externalParameters).toEqual({
      definition: { path: 'Dockerfile', digest: { sha256: sha256Digest('FROM x').slice(7) } },
      target: 'app',
      buildArgs: { VERSION: '1.0' },
      platforms: ['linux/amd64'],
    });
    expect(buildDefinition.resolvedDependencies).toEqual([
      { uri: 'pkg:docker/debian:12', digest: { sha256: sha256Digest('base').slice(7) }, name: 'debian:12' },
      { uri: 'file:///src', digest: { sha256: sha256Digest('context').slice(7) }, name: 'context' },
      { uri: 'git+https://example.com/app.git', digest: { gitCommit: 'a'.repeat(40) }, name: 'context-git' },
    ]);
    expect(buildDefinition.internalParameters).toBeUndefined();
    expect(runDetails).toEqual({
      builder: { id: 'https://wharf.dev/builder/cli', version: { wharf: '0.1.0' } },
      metadata: {
        invocationId: 'inv-1',
        startedOn: '2024-01-01T00:00:00.000Z',
        finishedOn: '2024-01-01T00:01:00.000Z',
      },
    });
  });

  it('mode max adds the build graph', () => {
    const statement = JSON.parse(JSON.stringify(provenanceStatement({ ...input, mode: 'max' })));
    expect(statement.predicate.buildDefinition.internalParameters).toEqual({ buildGraph: input.buildGraph });
  });
});

describe('gitSource', () => {
  const dirs = scratchDirs('wharf-git-');
  afterAll(dirs.remove);
  const git = (cwd: string, ...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], {
      cwd,
      encoding: 'utf8',
    }).trim();

  it('reads the commit and the origin remote (credentials dropped), as git itself reports them', async () => {
    const root = dirs.fresh();
    const repo = join(root, 'repo');
    mkdirSync(repo);
    git(repo, 'init', '-q');
    writeFileSync(join(repo, 'f'), 'x');
    git(repo, 'add', 'f');
    git(repo, 'commit', '-qm', 'one');
    git(repo, 'remote', 'add', 'origin', 'https://user:s3cret@example.com/app.git');
    expect(await gitSource(repo)).toEqual({
      commit: git(repo, 'rev-parse', 'HEAD'),
      remote: 'https://example.com/app.git',
    });
    // packed refs and a linked worktree (a .git file)
    git(repo, 'pack-refs', '--all');
    git(repo, 'worktree', 'add', '-q', join(root, 'wt'));
    expect((await gitSource(join(root, 'wt')))?.commit).toBe(git(repo, 'rev-parse', 'HEAD'));
    expect(await gitSource(root)).toBeUndefined();
  });

  it('refuses a HEAD that points outside refs/', async () => {
    const root = dirs.fresh();
    mkdirSync(join(root, '.git'), { recursive: true });
    writeFileSync(join(root, '.git/HEAD'), 'ref: refs/../../../etc/passwd\n');
    expect(await gitSource(root)).toBeUndefined();
  });

  it('redacts userinfo from URL remotes only', () => {
    expect(redactRemote('https://tok@github.com/a/b.git')).toBe('https://github.com/a/b.git');
    expect(redactRemote('git@github.com:a/b.git')).toBe('git@github.com:a/b.git');
  });
});
