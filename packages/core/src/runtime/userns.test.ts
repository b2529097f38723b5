import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UserNamespace } from './userns.js';

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
