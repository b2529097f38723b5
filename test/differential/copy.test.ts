// COPY: the direct backend writes the same files as BuildKit for the same definition and context.
import { chmodSync, linkSync } from 'node:fs';
import { join } from 'node:path';
import { context, define, stage, toGraph } from '@wharf/core';
import { describe, expect, it } from 'vitest';
import { buildBoth, trees } from '../helpers/differential.js';
import { noDocker } from '../helpers/env.js';

const files = {
  'a.txt': 'alpha\n',
  'b.txt': 'bravo\n',
  'c.md': '# c\n',
  'with space.txt': 'spaced\n',
  'script.sh': { content: '#!/bin/sh\necho hi\n', mode: 0o755 },
  'private.key': { content: 'secret-ish\n', mode: 0o600 },
  'dir/one.txt': '1\n',
  'dir/sub/two.txt': '2\n',
  'dir/sub/deeper/three.txt': '3\n',
  'links/target.txt': 'target\n',
  'links/relative': { symlink: 'target.txt' },
  'links/absolute': { symlink: '/etc/hostname' },
  'links/dangling': { symlink: 'nowhere' },
  'ignored/file.txt': 'ignored\n',
  'ignored/keep.txt': 'kept by an exception\n',
  'notes.local': 'never copied\n',
};

describe.skipIf(noDocker())('COPY matches BuildKit', () => {
  it('files, directories, globs, several sources, spaces, modes, symlinks, hardlinks, WORKDIR-relative', async () => {
    const app = stage('copy')
      .from('scratch')
      .copy('a.txt', '/single/a-renamed.txt')
      .copy('a.txt', '/into-dir/')
      .copy(['a.txt', 'b.txt'], '/many/')
      .copy('*.txt', '/glob/')
      .copy('dir', '/dir-contents')
      .copy('dir/', '/dir-contents-slash/')
      .copy('dir/sub', '/nested/deep/path/')
      .copy('with space.txt', '/spaced dir/')
      .copy(['script.sh', 'private.key'], '/modes/')
      .copy('links', '/links')
      .copy('hard', '/hard')
      .workdir('/work')
      .copy('a.txt', 'relative.txt')
      .copy('dir', './reldir/')
      .copy('ignored', '/ignored');
    const graph = toGraph(
      define({ target: app, context: context('.').ignore(['*.local', 'ignored', '!ignored/keep.txt']) }),
    );
    const results = await buildBoth({
      name: 'copy-basic',
      graph,
      files,
      prepare: (dir) => {
        // Two names for one file: both builders keep the hardlink.
        linkSync(join(dir, 'a.txt'), join(dir, 'hard-a'));
        const { mkdirSync, renameSync } = process.getBuiltinModule('node:fs') as typeof import('node:fs');
        mkdirSync(join(dir, 'hard'));
        linkSync(join(dir, 'b.txt'), join(dir, 'hard', 'one'));
        linkSync(join(dir, 'b.txt'), join(dir, 'hard', 'two'));
        renameSync(join(dir, 'hard-a'), join(dir, 'hard', 'three'));
        chmodSync(join(dir, 'dir', 'sub'), 0o750);
      },
    });
    const { buildkit, direct } = trees(results);
    if (process.env.WHARF_DEBUG_TREES) console.log(buildkit.join('\n'));
    expect(direct).toEqual(buildkit);
    expect(direct).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^\/hard\/two (file|hardlink)/),
        expect.stringMatching(/^\/links\/relative symlink 777 0:0 -> target.txt/),
      ]),
    );
    expect(direct.length).toBeGreaterThan(40);
    expect(results.direct.config).toEqual(results.buildkit.config);
  });

  it('--chmod, --chown with numbers, and --exclude-free defaults', async () => {
    const app = stage('copy-flags')
      .from('scratch')
      .copy('script.sh', '/bin/run', { chmod: '700' })
      .copy('dir', '/owned/', { chown: '1000:1000' })
      .copy('a.txt', '/owned-uid-only.txt', { chown: '123' })
      .copy(['a.txt', 'b.txt'], '/chmod-many/', { chmod: '0640', chown: '7:8' });
    const results = await buildBoth({ name: 'copy-flags', graph: toGraph(app), files });
    const { buildkit, direct } = trees(results);
    expect(direct).toEqual(buildkit);
  });
});
