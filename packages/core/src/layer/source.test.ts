import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openContextSource } from './source.js';

const dir = mkdtempSync(join(tmpdir(), 'wharf-source-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the lazy build context', () => {
  it('keeps every listing while held, and the usual few again once released', async () => {
    for (const name of ['a', 'b', 'c']) {
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, 'f'), 'one');
    }
    // a cap of 2 entries: the root's three and each directory's one are more than it keeps
    const tree = await openContextSource(dir, { ignore: [], keptEntries: 2 });
    const release = tree.hold?.();
    expect(release).toBeDefined();
    const sizeOfAF = async () => (await tree.lstat('a/f'))?.size;
    expect(await sizeOfAF()).toBe(3);
    for (const name of ['b', 'c']) await tree.lstat(`${name}/f`);
    writeFileSync(join(dir, 'a/f'), 'longer');
    expect(await sizeOfAF()).toBe(3); // held: a's listing was kept, not read again
    release?.();
    release?.(); // once is enough
    for (const name of ['b', 'c']) await tree.lstat(`${name}/f`);
    expect(await sizeOfAF()).toBe(6); // dropped past the cap, so listed afresh
  });
});
