import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deadPid } from '../testing/processes.js';
import { leftByDeadProcess, liveLeases, takeLease } from './lease.js';
import { openStore, TEMP_PREFIX, whileUnused } from './store.js';

const dir = mkdtempSync(join(tmpdir(), 'wharf-lease-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('leases', () => {
  it('a lease counts while its process lives; a dead process’s is dropped', async () => {
    const leases = join(dir, 'l1');
    const lease = await takeLease(leases, join(dir, '.l1.lock'));
    expect(await liveLeases(leases)).toEqual([process.pid]);
    expect(await liveLeases(leases, { except: process.pid })).toEqual([]);
    writeFileSync(join(leases, `${deadPid()}-dead`), '');
    expect(await liveLeases(leases)).toEqual([process.pid]);
    expect(readdirSync(leases)).toHaveLength(1);
    await lease.release();
    expect(readdirSync(leases)).toEqual([]);
  });

  it('leftByDeadProcess reads the pid a name starts with', () => {
    expect(leftByDeadProcess(`${deadPid()}-x`)).toBe(true);
    expect(leftByDeadProcess(`${process.pid}-x`)).toBe(false);
    expect(leftByDeadProcess('x-1')).toBe(false);
  });
});

describe('the store lease', () => {
  it('a prune leaves the store alone while another process has it open', async () => {
    const root = join(dir, 'store');
    const store = await openStore({ root });
    expect(readdirSync(join(root, 'leases')).map((n) => n.split('-')[0])).toEqual([String(process.pid)]);
    // another process holding the store, as openStore leaves it there
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    writeFileSync(join(root, 'leases', `${child.pid}-other`), `${child.pid}\n`);
    let ran = false;
    const busy = await whileUnused(store, async () => {
      ran = true;
    });
    expect(busy).toEqual({ inUse: [child.pid] });
    expect(ran).toBe(false);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    expect(await whileUnused(store, async () => 'pruned')).toEqual({ done: 'pruned' });
  });

  it('opening a store removes the temp files of dead processes, not of live ones', async () => {
    const root = join(dir, 'temps');
    await openStore({ root });
    const blobs = join(root, 'blobs', 'sha256');
    const dead = join(blobs, `${TEMP_PREFIX}${deadPid()}-abc`);
    const live = join(blobs, `${TEMP_PREFIX}${process.pid}-abc`);
    writeFileSync(dead, 'partial');
    writeFileSync(live, 'partial');
    await whileUnused(await openStore({ root }), async () => {});
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(live)).toBe(true);
  });
});
