// `--cache-dir DIR` holds everything a direct build keeps (blobs, step cache, RUN snapshots, cache
// mounts): nothing is written beside DIR, where unrelated folders (or other cache dirs) live.
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { wharfAsync } from '../helpers/cli.js';
import { noDocker, testEnv } from '../helpers/env.js';
import { tempDir } from '../helpers/paths.js';

describe.skipIf(noDocker())('wharf build --cache-dir', () => {
  it('keeps RUN snapshots and cache mounts inside the cache dir', async () => {
    const definition = join(tempDir('wharf-cache-dir-def-'), 'build.ts');
    writeFileSync(
      definition,
      "import { cache, stage } from '@wharf/core';\n" +
        "export default stage('x').from('busybox').run('echo hi > /hi && touch /c/seen', { mounts: [cache('/c')] });\n",
    );
    const parent = tempDir('wharf-cache-dir-');
    const result = await wharfAsync([
      'build',
      definition,
      '--registry-mirror',
      testEnv().mirror.url,
      '--progress',
      'quiet',
      '--cache-dir',
      join(parent, 'cache'),
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(readdirSync(parent)).toEqual(['cache']);
  });
});
