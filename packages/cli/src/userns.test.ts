import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { subordinateRange, wantsNamespace } from './userns.js';

const dir = mkdtempSync(join(tmpdir(), 'wharf-cli-userns-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('re-executing in a user namespace with subordinate ids', () => {
  it('finds the caller’s range by name or uid, the first one', () => {
    const file = join(dir, 'subuid');
    writeFileSync(file, 'alice:100000:65536\n1001:165536:65536\nalice:300000:10\nbroken:x:1\n');
    expect(subordinateRange(file, 'alice', 1000)).toEqual({ start: 100000, count: 65536 });
    expect(subordinateRange(file, 'bob', 1001)).toEqual({ start: 165536, count: 65536 });
    expect(subordinateRange(file, 'broken', 1002)).toBeUndefined();
    expect(subordinateRange(join(dir, 'missing'), 'alice', 1000)).toBeUndefined();
  });

  it('only for commands that run RUN steps or touch the cache', () => {
    expect(wantsNamespace(['build', 'build.ts', '-o', 'type=oci,dest=out'])).toBe(true);
    expect(wantsNamespace(['cache', 'prune', '--all'])).toBe(true);
    expect(wantsNamespace(['build', '--backend', 'docker', 'build.ts'])).toBe(false);
    expect(wantsNamespace(['build', '--backend=docker'])).toBe(false);
    expect(wantsNamespace(['push', 'out.tar', 'registry/app:1'])).toBe(false);
    expect(wantsNamespace(['dockerfile', 'build.ts'])).toBe(false);
  });
});
