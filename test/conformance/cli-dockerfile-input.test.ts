// BuildKit's negative parser cases through the CLI: each fails with one `file:line:col: message` line and
// exit 1, for `wharf dockerfile --check` and `wharf convert` alike.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { wharfAsync } from '../helpers/cli.js';
import { expectLocatedError } from '../helpers/located-error.js';
import { peerSuite } from './peer-suites.js';

describe('BuildKit testfiles-negative through the CLI', () => {
  const dir = peerSuite('buildkit-parser', 'testfiles-negative');
  const negatives = readdirSync(dir).map((name) => join(dir, name, 'Dockerfile'));

  it.each(negatives)('%s fails with its location', async (file) => {
    expectLocatedError(await wharfAsync(['dockerfile', '--check', file]), file);
    expectLocatedError(await wharfAsync(['convert', file]), file);
  });
});
