// Dockerfile input through the CLI: malformed Dockerfiles (BuildKit's negative cases and our own) give
// one `file:line:col: message` line and exit 1, for --check, convert and build -f alike.
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { wharf } from '../helpers/cli.js';
import { peerSuitesDir, tempDir } from '../helpers/paths.js';

const negativeDir = join(peerSuitesDir, 'buildkit-parser/testfiles-negative');

function expectLocatedError(result: ReturnType<typeof wharf>, file: string) {
  expect(result.code).toBe(1);
  const first = result.stderr.split('\n')[0] ?? '';
  expect(first).toMatch(new RegExp(`^wharf: ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+:\\d+: \\S`));
  expect(result.stderr).not.toMatch(/\n\s+at /);
}

describe('malformed Dockerfiles', () => {
  const negatives = readdirSync(negativeDir).map((name) => join(negativeDir, name, 'Dockerfile'));

  it.each(negatives)('BuildKit negative case %s fails with its location', (file) => {
    expectLocatedError(wharf(['dockerfile', '--check', file]), file);
    expectLocatedError(wharf(['convert', file]), file);
  });

  const malformed: Record<string, string> = {
    'unknown instruction': 'FROM alpine\nFROBNICATE x\n',
    'bad flag': 'FROM alpine\nCOPY --chmodd=755 a /a\n',
    'missing argument': 'FROM alpine\nWORKDIR\n',
    'bad JSON for SHELL': 'FROM alpine\nSHELL /bin/bash -c\n',
    'instruction before FROM': 'RUN echo hi\nFROM alpine\n',
    'invalid port': 'FROM alpine\nEXPOSE 99999\n',
    'stages in a cycle': 'FROM alpine AS a\nCOPY --from=b /x /x\nFROM a AS b\n',
  };

  it.each(Object.entries(malformed))('%s', (_, text) => {
    const dir = tempDir();
    const file = join(dir, 'Dockerfile');
    writeFileSync(file, text);
    expectLocatedError(wharf(['dockerfile', '--check', file]), file);
    expectLocatedError(wharf(['build', '--progress', 'quiet', '-f', file, dir]), file);
  });
});
