// Dockerfile input through the CLI: malformed Dockerfiles give one `file:line:col: message` line and exit 1,
// for --check, convert and build -f alike. (BuildKit's negative cases: test/conformance/cli-dockerfile-input.test.ts.)
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { wharfAsync } from '../helpers/cli.js';
import { expectLocatedError } from '../helpers/located-error.js';
import { tempDir } from '../helpers/paths.js';

describe('malformed Dockerfiles', () => {
  const malformed: Record<string, string> = {
    'unknown instruction': 'FROM alpine\nFROBNICATE x\n',
    'bad flag': 'FROM alpine\nCOPY --chmodd=755 a /a\n',
    'missing argument': 'FROM alpine\nWORKDIR\n',
    'bad JSON for SHELL': 'FROM alpine\nSHELL /bin/bash -c\n',
    'instruction before FROM': 'RUN echo hi\nFROM alpine\n',
    'invalid port': 'FROM alpine\nEXPOSE 99999\n',
    'stages in a cycle': 'FROM alpine AS a\nCOPY --from=b /x /x\nFROM a AS b\n',
  };

  it.each(Object.entries(malformed))('%s', async (_, text) => {
    const dir = tempDir();
    const file = join(dir, 'Dockerfile');
    writeFileSync(file, text);
    expectLocatedError(await wharfAsync(['dockerfile', '--check', file]), file);
    expectLocatedError(await wharfAsync(['build', '--progress', 'quiet', '-f', file, dir]), file);
  });
});
