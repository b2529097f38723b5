/**
 * Attacks found by reviewing the trust-boundary defences (issue 13, "look for the next one"): each
 * builds a hostile Dockerfile with the direct backend and checks the host is untouched.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildGraph, lowerDockerfile } from '@wharf/core';
import { describe, expect, it } from 'vitest';
import { noDocker, testEnv } from '../helpers/env.js';
import { tempDir } from '../helpers/paths.js';

const isRoot = process.getuid?.() === 0;

/** Builds `dockerfile` with the direct backend in a fresh context holding `files`; the error, if any. */
async function buildDirect(
  dockerfile: string,
  files: Record<string, string> = {},
): Promise<Error | undefined> {
  const work = tempDir('wharf-review-');
  const contextDir = join(work, 'context');
  mkdirSync(contextDir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(contextDir, name), text);
  try {
    await buildGraph(lowerDockerfile(dockerfile, { file: 'Dockerfile' }), {
      contextDir,
      cacheDir: join(work, 'cache'),
      registry: { mirrors: [testEnv().mirror.url] },
    });
    return undefined;
  } catch (error) {
    return error as Error;
  }
}

describe.skipIf(noDocker() || !isRoot)('review: hostile steps cannot reach the host', () => {
  it('a step that swaps the parent of a mount stub for a symlink to a host directory does not delete the host file', async () => {
    const victimDir = tempDir('wharf-victim-');
    const victim = join(victimDir, 'victim');
    writeFileSync(victim, `host-file-${randomUUID()}\n`);
    // /stub/victim is created as a file stub for the bind mount, and removed after the step: the step
    // renames /stub away and puts `/stub -> <victimDir>` in its place.
    await buildDirect(
      `FROM busybox
RUN --mount=type=bind,source=f,target=/stub/victim sh -c 'mv /stub /stub2 && ln -s ${victimDir} /stub'
`,
      { f: 'context file\n' },
    );
    expect(existsSync(victim)).toBe(true);
  });
});
