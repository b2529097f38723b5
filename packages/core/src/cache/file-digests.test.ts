import { createHash } from 'node:crypto';
import { lstatSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileDigests } from './file-digests.js';

const dir = mkdtempSync(join(tmpdir(), 'wharf-file-digests-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

describe('FileDigests', () => {
  it('hashes a file once while its stat is unchanged, again when it changes, and keeps that on disk', async () => {
    const file = join(dir, 'a.txt');
    const cacheFile = join(dir, 'cache', 'file-digests.json');
    writeFileSync(file, 'one');
    const cache = await FileDigests.open(cacheFile);
    expect(await cache.digest(file)).toBe(sha('one'));
    expect(await cache.digest(file)).toBe(sha('one'));
    expect(cache.stats).toEqual({ hashed: 1, reused: 1 });

    writeFileSync(file, 'two!');
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    expect(await cache.digest(file)).toBe(sha('two!'));
    await cache.save();

    const reopened = await FileDigests.open(cacheFile);
    expect(await reopened.digest(file)).toBe(sha('two!'));
    expect(reopened.stats).toEqual({ hashed: 0, reused: 1 });
  });

  it('reads its log when first asked, not when opened, and leaves an unasked log as it was', async () => {
    const file = join(dir, 'lazy.txt');
    writeFileSync(file, 'lazy');
    const cacheFile = join(dir, 'lazy-cache.json');
    const first = await FileDigests.open(cacheFile);
    await first.digest(file);
    await first.save();
    const saved = readFileSync(cacheFile, 'utf8');
    const unasked = await FileDigests.open(cacheFile);
    await unasked.save();
    expect(readFileSync(cacheFile, 'utf8')).toBe(saved);
    // a few small files are hashed without reading the log (nor appending to it)
    const few = await FileDigests.open(cacheFile);
    expect(await few.digestMany([{ path: file }])).toEqual([sha('lazy')]);
    expect(few.stats).toEqual({ hashed: 1, reused: 0 });
    await few.save();
    expect(readFileSync(cacheFile, 'utf8')).toBe(saved);
    // what the log holds when the first question comes is what answers it
    const opened = await FileDigests.open(cacheFile);
    writeFileSync(cacheFile, saved.replace(sha('lazy'), sha('planted')));
    expect(await opened.digest(file)).toBe(sha('planted'));
  });

  it('counts what it cannot answer, learns digests made elsewhere, and saves them', async () => {
    const files = ['l1.txt', 'l2.txt'].map((name) => join(dir, name));
    for (const file of files) writeFileSync(file, `content of ${file}`);
    const stats = files.map((file) => {
      const st = lstatSync(file, { bigint: true });
      return { path: file, stat: { size: st.size, mtimeNs: st.mtimeNs, ino: st.ino, dev: st.dev } };
    });
    const cacheFile = join(dir, 'learned.json');
    const cache = await FileDigests.open(cacheFile);
    expect(cache.unknown(stats)).toEqual({ files: 2, bytes: Number(stats[0]?.stat.size) * 2 });
    for (const { path, stat } of stats) cache.learn(path, stat, sha(`content of ${path}`));
    expect(cache.unknown(stats)).toEqual({ files: 0, bytes: 0 });
    expect(await cache.digestMany(stats)).toEqual(files.map((f) => sha(`content of ${f}`)));
    expect(cache.stats).toEqual({ hashed: 2, reused: 2 });
    await cache.save();
    const reopened = await FileDigests.open(cacheFile);
    expect(reopened.unknown(stats)).toEqual({ files: 0, bytes: 0 });
  });

  it('learns nothing while its log is unread, and leaves the log as it was', async () => {
    const file = join(dir, 'learnt.txt');
    writeFileSync(file, 'learnt');
    const cacheFile = join(dir, 'unread-cache');
    writeFileSync(join(dir, 'other.txt'), 'other');
    const first = await FileDigests.open(cacheFile);
    await first.digest(join(dir, 'other.txt'));
    await first.save();
    const saved = readFileSync(cacheFile, 'utf8');
    const st = lstatSync(file, { bigint: true });
    const stat = { size: st.size, mtimeNs: st.mtimeNs, ino: st.ino, dev: st.dev };
    // a build whose few files were hashed directly writes their layer: the log is not read for it
    const unread = await FileDigests.open(cacheFile);
    expect(await unread.digestMany([{ path: file, stat }])).toEqual([sha('learnt')]);
    unread.learn(file, stat, sha('learnt'));
    await unread.save();
    expect(readFileSync(cacheFile, 'utf8')).toBe(saved);
    // once read, what is learnt is recorded
    const read = await FileDigests.open(cacheFile);
    expect(read.unknown([{ path: file, stat }])).toEqual({ files: 1, bytes: 6 });
    read.learn(file, stat, sha('learnt'));
    await read.save();
    expect(await (await FileDigests.open(cacheFile)).digest(file, stat)).toBe(sha('learnt'));
  });

  it('streams files bigger than a MiB', async () => {
    const file = join(dir, 'big.bin');
    const data = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    writeFileSync(file, data);
    const cache = await FileDigests.open(join(dir, 'other.json'));
    expect(await cache.digest(file)).toBe(sha(data));
  });

  it("takes the caller's lstat instead of a second stat, and still rehashes when it differs", async () => {
    const file = join(dir, 'seen.txt');
    writeFileSync(file, 'seen');
    const cache = await FileDigests.open(join(dir, 'seen.json'));
    const st = lstatSync(file, { bigint: true });
    expect(await cache.digest(file, st)).toBe(sha('seen'));
    expect(await cache.digest(file, { ...st, size: Number(st.size), mtimeNs: st.mtimeNs })).toBe(sha('seen'));
    expect(cache.stats).toEqual({ hashed: 1, reused: 1 });
    writeFileSync(file, 'changed');
    expect(await cache.digest(file, { ...st, mtimeNs: st.mtimeNs + 1n, size: 7 })).toBe(sha('changed'));
    expect(cache.stats).toEqual({ hashed: 2, reused: 1 });
  });

  it('hashes all of a small file that grew past a MiB after its lstat', async () => {
    const file = join(dir, 'grew.bin');
    writeFileSync(file, 'x');
    const st = lstatSync(file, { bigint: true });
    const data = Buffer.alloc(2 * 1024 * 1024 + 3, 5);
    writeFileSync(file, data);
    const cache = await FileDigests.open(join(dir, 'grew.json'));
    expect(await cache.digest(file, st)).toBe(sha(data));
  });

  it('fails for a missing file', async () => {
    const cache = await FileDigests.open(join(dir, 'third.json'));
    await expect(cache.digest(join(dir, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('appends what a build hashed to its log, reads odd paths back, and skips a line cut short', async () => {
    const odd = ['plain.txt', 'tab\there.txt', 'new\nline.txt', '"quoted'].map((name) => join(dir, name));
    for (const file of odd) writeFileSync(file, `content of ${file}`);
    const cacheFile = join(dir, 'log', 'file-digests');
    const first = await FileDigests.open(cacheFile);
    for (const file of odd) await first.digest(file);
    await first.save();
    const written = readFileSync(cacheFile, 'utf8');
    expect(written.split('\n')[0]).toBe('wharf file digests v2');

    writeFileSync(odd[0] as string, 'changed!');
    utimesSync(odd[0] as string, new Date(), new Date(Date.now() + 7000));
    const second = await FileDigests.open(cacheFile);
    expect(await second.digest(odd[0] as string)).toBe(sha('changed!'));
    await second.save();
    const appended = readFileSync(cacheFile, 'utf8');
    expect(appended.startsWith(written)).toBe(true); // one line added, nothing rewritten
    expect(appended.slice(written.length).split('\n')).toHaveLength(2);

    writeFileSync(cacheFile, `${appended}/cut/short\t12\t3`); // a crash in the middle of an append
    const third = await FileDigests.open(cacheFile);
    expect(await Promise.all(odd.map((file) => third.digest(file)))).toEqual([
      sha('changed!'),
      ...odd.slice(1).map((file) => sha(`content of ${file}`)),
    ]);
    expect(third.stats).toEqual({ hashed: 0, reused: 4 });
  });

  it('reads the JSON cache of earlier versions once and replaces it with the log', async () => {
    const file = join(dir, 'old.txt');
    writeFileSync(file, 'old');
    const st = lstatSync(file, { bigint: true });
    const cacheFile = join(dir, 'old-cache.json');
    const entry = { size: 3, mtimeNs: String(st.mtimeNs), ino: String(st.ino), dev: String(st.dev) };
    writeFileSync(cacheFile, JSON.stringify({ [file]: { ...entry, sha256: sha('old') } }));
    const cache = await FileDigests.open(cacheFile);
    expect(await cache.digest(file)).toBe(sha('old'));
    expect(cache.stats).toEqual({ hashed: 0, reused: 1 });
    await cache.save();
    expect(readFileSync(cacheFile, 'utf8')).toMatch(/^wharf file digests v2\n/);
    expect(await (await FileDigests.open(cacheFile)).digest(file)).toBe(sha('old'));
  });

  it('rewrites the log whole once half of it is stale', async () => {
    const file = join(dir, 'churn.txt');
    const cacheFile = join(dir, 'churn-cache');
    for (let round = 0; round < 80; round++) {
      writeFileSync(file, `round ${round}`);
      utimesSync(file, new Date(), new Date(Date.now() + round * 1000));
      const cache = await FileDigests.open(cacheFile);
      expect(await cache.digest(file)).toBe(sha(`round ${round}`));
      await cache.save();
    }
    // one live file: the log never grows past the slack before it is compacted
    expect(readFileSync(cacheFile, 'utf8').split('\n').length).toBeLessThan(2 + 64 + 2);
  });
});
