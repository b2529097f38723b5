import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseIdMapping, UserNamespace } from './userns.js';

const dir = mkdtempSync(join(tmpdir(), 'wharf-userns-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Waits until `pid` is gone (the holder exits on its own once its stdin closes). */
async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

describe.skipIf(process.platform !== 'linux')('UserNamespace', () => {
  it('runs commands as its root, in the holder’s directory; its mounts are seen only through hostPath', async () => {
    mkdirSync(join(dir, 'm'));
    const ns = await UserNamespace.start(dir);
    expect(ns, 'unshare/nsenter and unprivileged user namespaces are needed').toBeDefined();
    if (!ns) return;
    try {
      const id = await ns.exec('sh', ['-c', 'id -u && pwd']);
      expect(id.code, id.stderr).toBe(0);
      expect(id.stdout.toString()).toBe(`0\n${dir}\n`);
      // a relative target resolves in the holder's working directory
      const mounted = await ns.exec('mount', ['-t', 'tmpfs', 'tmpfs', 'm']);
      expect(mounted.code, mounted.stderr).toBe(0);
      writeFileSync(join(ns.hostPath(dir), 'm', 'inside'), 'x');
      expect(readFileSync(ns.hostPath(join(dir, 'm', 'inside')), 'utf8')).toBe('x');
      // wharf's own namespace has no such mount: the file went to the tmpfs, not to the directory
      expect(() => readFileSync(join(dir, 'm', 'inside'))).toThrow(/ENOENT/);
      expect(ns.enter()).toEqual(expect.arrayContaining([`--target=${ns.pid}`, '--user', '--mount']));
    } finally {
      ns.close();
    }
    expect(await gone(ns.pid)).toBe(true);
  });
});

describe('parseIdMapping', () => {
  it('the initial namespace: not inside, everything mapped', () => {
    const all = '         0          0 4294967295\n';
    expect(parseIdMapping(all, all, 1000, 1000)).toEqual({
      inside: false,
      hostUid: 1000,
      hostGid: 1000,
      mapped: 4294967295,
    });
  });

  it('root mapped to the caller and subordinate ids after it: ids 0–65536 usable', () => {
    const uids = '0 999 1\n1 200000 65536\n';
    const gids = '0 995 1\n1 200000 65536\n';
    expect(parseIdMapping(uids, gids, 0, 0)).toEqual({
      inside: true,
      hostUid: 999,
      hostGid: 995,
      mapped: 65537,
    });
    expect(parseIdMapping(uids, gids, 1000, 1000)).toMatchObject({ hostUid: 200999, hostGid: 200999 });
  });

  it('only root mapped (unshare --map-root-user): one id', () => {
    expect(parseIdMapping('0 1000 1\n', '0 1000 1\n', 0, 0)).toEqual({
      inside: true,
      hostUid: 1000,
      hostGid: 1000,
      mapped: 1,
    });
  });
});
