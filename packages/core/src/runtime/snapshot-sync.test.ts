import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deadPid } from '../testing/processes.js';
import { discardIfCrashed } from './snapshot-gc.js';
import { fromEarlierBoot, markUnsynced, syncInBackground } from './snapshot-sync.js';

const dir = mkdtempSync(join(tmpdir(), 'wharf-snapshot-sync-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();

/** A root with one extracted layer and a marker of `markerBoot` left by process `pid`. */
function rootWith(name: string, markerBoot: string, pid: number): string {
  const root = join(dir, name);
  mkdirSync(join(root, 'layers', 'aa', 'fs'), { recursive: true });
  writeFileSync(join(root, 'layers', 'aa', 'fs', 'f'), 'x');
  mkdirSync(join(root, 'unsynced'), { recursive: true });
  writeFileSync(join(root, 'unsynced', `${pid}-0001`), `${markerBoot}\n`);
  return root;
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 25));
}

describe('snapshot roots after a crash', () => {
  it('empties a root whose writes of an earlier boot never reached a sync', async () => {
    const root = rootWith('crashed', 'a-boot-that-is-over', deadPid());
    expect(await fromEarlierBoot(root)).toBe(true);
    expect(await discardIfCrashed(root)).toBe(true);
    expect(existsSync(join(root, 'layers', 'aa'))).toBe(false);
  });

  it('keeps a root whose unsynced writes are of this boot', async () => {
    const root = rootWith('this-boot', boot, deadPid());
    expect(await discardIfCrashed(root)).toBe(false);
    expect(existsSync(join(root, 'layers', 'aa', 'fs', 'f'))).toBe(true);
  });

  it('a background sync removes its own marker and those of dead processes, not live ones', async () => {
    const root = rootWith('synced', boot, deadPid());
    const live = join(root, 'unsynced', `${process.ppid}-0002`);
    writeFileSync(live, `${boot}\n`);
    const mine = await markUnsynced(root);
    expect(readFileSync(mine, 'utf8').trim()).toBe(boot);
    syncInBackground(root, mine);
    await until(() => readdirSync(join(root, 'unsynced')).length === 1);
    expect(readdirSync(join(root, 'unsynced'))).toEqual([`${process.ppid}-0002`]);
    expect(await fromEarlierBoot(root)).toBe(false);
  });
});
