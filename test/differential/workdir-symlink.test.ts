// WORKDIR through a symlink an earlier RUN made: BuildKit creates the directory through the link,
// inside the image (its mkdir resolves the path with fs.RootPath), and keeps WorkingDir as written.
// Before, the direct backend failed: "/link exists and is not a directory".
import { createHash } from 'node:crypto';
import { define, stage, toGraph } from '@wharf/core';
import { describe, expect, it } from 'vitest';
import { buildBoth, trees } from '../helpers/differential.js';
import { noDocker, testEnv } from '../helpers/env.js';

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

describe.skipIf(noDocker())('WORKDIR matches BuildKit', () => {
  it('WORKDIR /link/sub with /link -> /real creates /real/sub, and RUN runs there', async () => {
    const target = stage('workdir-link')
      .from('busybox')
      .run('mkdir /real && ln -s /real /link')
      .workdir('/link/sub')
      .run('pwd > /where.txt && touch made-here');
    const results = await buildBoth({
      name: 'workdir-symlink',
      graph: toGraph(define({ target })),
      files: {},
      registry: { mirrors: [testEnv().mirror.url] },
    });
    const skip = (line: string) => !/^\/(proc|dev|sys) dir /.test(line);
    const { buildkit, direct } = trees(results);
    expect(direct.filter(skip)).toEqual(buildkit.filter(skip));
    expect(results.direct.config).toEqual(results.buildkit.config);
    expect(results.direct.tree.get('/real/sub/made-here')).toMatchObject({ type: 'file' });
    expect(results.direct.tree.get('/link')).toMatchObject({ type: 'symlink', link: '/real' });
    // The runtime enters the resolved directory, so pwd names it (in both builders' images).
    expect(results.direct.tree.get('/where.txt')?.sha256).toBe(sha('/real/sub\n'));
  });
});
