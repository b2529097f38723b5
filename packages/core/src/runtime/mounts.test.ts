import { describe, expect, it } from 'vitest';
import { mountStubs } from './mounts.js';

describe('mountStubs', () => {
  it('keeps created directories (targets and parents), as BuildKit 20.10 leaves them', () => {
    expect(
      mountStubs([{ kind: 'dir', path: 'var/cache/thing', created: ['var/cache', 'var/cache/thing'] }]),
    ).toEqual([]);
  });

  it("removes a file target it created, keeping the parents made for it (a secret's /run/secrets)", () => {
    expect(
      mountStubs([
        { kind: 'file', path: 'run/secrets/token', created: ['run', 'run/secrets', 'run/secrets/token'] },
      ]),
    ).toEqual(['run/secrets/token']);
    // an existing file target was not created: nothing to remove
    expect(mountStubs([{ kind: 'file', path: 'etc/hosts', created: [] }])).toEqual([]);
  });

  it('removes what was created below another directory mount (runc makes it inside that mount), deepest first', () => {
    expect(
      mountStubs([
        { kind: 'dir', path: 'n/c', created: ['n', 'n/c'] },
        { kind: 'dir', path: 'n/c/t/u', created: ['n/c/t', 'n/c/t/u'] },
        { kind: 'file', path: 'n/c/f', created: ['n/c/f'] },
      ]),
    ).toEqual(['n/c/t/u', 'n/c/t', 'n/c/f']);
  });

  it('removes what was created below /proc, /dev and /sys: runc mounts them first (a script heredoc at /dev/pipes)', () => {
    expect(mountStubs([{ kind: 'dir', path: 'dev/pipes', created: ['dev/pipes'] }])).toEqual(['dev/pipes']);
    expect(mountStubs([{ kind: 'dir', path: 'devices', created: ['devices'] }])).toEqual([]);
  });
});
