// ADD of local files and archives (plain tar, gzip, bzip2, xz), and the context's own .dockerignore:
// the direct backend's files match BuildKit's.
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stage, toGraph } from '@wharf/core';
import { describe, expect, it } from 'vitest';
import { buildBoth, trees } from '../helpers/differential.js';
import { noDocker } from '../helpers/env.js';

/** Makes archives of a small tree with odd owners, modes, a symlink and a nested directory. */
function makeArchives(dir: string) {
  const src = join(dir, '..', 'archive-src');
  mkdirSync(join(src, 'pkg', 'bin'), { recursive: true });
  writeFileSync(join(src, 'pkg', 'README'), 'readme\n');
  writeFileSync(join(src, 'pkg', 'bin', 'tool'), '#!/bin/sh\n', { mode: 0o755 });
  symlinkSync('bin/tool', join(src, 'pkg', 'tool-link'));
  const tar = (name: string, ...flags: string[]) =>
    execFileSync('tar', [
      '-c',
      ...flags,
      '-f',
      join(dir, name),
      '--owner=1234',
      '--group=5678',
      '--numeric-owner',
      '-C',
      src,
      'pkg',
    ]);
  tar('plain.tar');
  tar('gzipped.tar.gz', '-z');
  tar('bzipped.tar.bz2', '-j');
  tar('xzipped.tar.xz', '-J');
  // A compressed archive with a misleading name is still unpacked (detected by content, as Docker does).
  tar('no-extension', '-z');
}

describe.skipIf(noDocker())('ADD matches BuildKit', () => {
  it('unpacks local archives (plain, gzip, bzip2, xz), keeping their owners; copies other files', async () => {
    const app = stage('add')
      .from('scratch')
      .add('plain.tar', '/plain/')
      .add('gzipped.tar.gz', '/gz')
      .add('bzipped.tar.bz2', '/bz2/')
      .add('xzipped.tar.xz', '/xz/')
      .add('no-extension', '/detected/')
      .add('notes.txt', '/notes/')
      .add('notes.txt', '/notes-renamed.txt', { chmod: '600' });
    const results = await buildBoth({
      name: 'add-archives',
      graph: toGraph(app),
      files: { 'notes.txt': 'notes\n' },
      prepare: makeArchives,
    });
    const { buildkit, direct } = trees(results);
    expect(direct).toEqual(buildkit);
    expect(direct).toEqual(
      expect.arrayContaining([expect.stringMatching(/^\/xz\/pkg\/bin\/tool file 755 1234:5678 /)]),
    );
  });

  it("honours the context's own .dockerignore when the definition sets none", async () => {
    const app = stage('ignore').from('scratch').copy('.', '/ctx/');
    const results = await buildBoth({
      name: 'dockerignore-file',
      graph: toGraph(app),
      files: {
        '.dockerignore': '# comment\n*.log\n**/tmp\n!keep.log\nbuild/\n',
        'a.txt': 'a\n',
        'x.log': 'x\n',
        'keep.log': 'kept\n',
        'deep/er/tmp/file': 'gone\n',
        'deep/er/file': 'here\n',
        'build/out': 'gone\n',
      },
    });
    const { buildkit, direct } = trees(results);
    expect(direct).toEqual(buildkit);
    expect(direct.some((line) => line.startsWith('/ctx/x.log'))).toBe(false);
  });
});
