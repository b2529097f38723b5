import { type FileHandle, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isNotFound, SyncBehind, syncDirectory, writeFileAtomic } from './files.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wharf-files-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('writeFileAtomic', () => {
  it('creates missing parents, replaces the old content and leaves no temp file', async () => {
    const file = join(dir, 'a', 'b', 'record.json');
    await writeFileAtomic(file, 'one');
    await writeFileAtomic(file, new TextEncoder().encode('two'), { durable: false });
    expect(await readFile(file, 'utf8')).toBe('two');
    expect(await readdir(join(dir, 'a', 'b'))).toEqual(['record.json']);
  });

  it('applies the file and directory modes', async () => {
    const file = join(dir, 'private', 'config.json');
    const umask = process.umask(0);
    try {
      await writeFileAtomic(file, '{}', { mode: 0o600, dirMode: 0o700 });
    } finally {
      process.umask(umask);
    }
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'private'))).mode & 0o777).toBe(0o700);
  });

  it('keeps the old file and removes its temp file when the rename fails', async () => {
    const target = join(dir, 'taken');
    await writeFile(join(dir, 'keep'), 'x');
    await writeFileAtomic(join(target, 'inner'), 'old');
    // a directory that is not empty cannot be replaced by a file
    await expect(writeFileAtomic(target, 'new')).rejects.toMatchObject({ code: 'EISDIR' });
    expect((await readdir(dir)).sort()).toEqual(['keep', 'taken']);
    expect(await readFile(join(target, 'inner'), 'utf8')).toBe('old');
  });
});

describe('syncDirectory', () => {
  it('never throws, even for a missing directory', async () => {
    await expect(syncDirectory(join(dir, 'absent'))).resolves.toBeUndefined();
    await expect(syncDirectory(dir)).resolves.toBeUndefined();
  });
});

describe('SyncBehind', () => {
  it('flushes a streamed file behind the writes and syncs it at the end', async () => {
    const path = join(dir, 'blob');
    const handle = await open(path, 'wx');
    const calls: string[] = [];
    const datasync = handle.datasync.bind(handle);
    handle.datasync = () => {
      calls.push('datasync');
      return datasync();
    };
    try {
      const durable = new SyncBehind(handle);
      const chunk = Buffer.alloc(1024 * 1024, 7);
      for (let i = 0; i < 40; i++) await durable.write(chunk);
      await durable.sync();
    } finally {
      await handle.close();
    }
    expect((await stat(path)).size).toBe(40 * 1024 * 1024);
    expect(calls.length).toBeGreaterThanOrEqual(1); // 16 MiB apart, never two at once
    expect(calls.length).toBeLessThanOrEqual(2);
  });

  it('keeps one background flush in flight in the whole process', async () => {
    let inFlight = 0;
    let most = 0;
    let flushes = 0;
    const fake = () =>
      ({
        datasync: async () => {
          flushes++;
          most = Math.max(most, ++inFlight);
          await new Promise((resolve) => setTimeout(resolve, 5));
          inFlight--;
        },
        sync: () => Promise.resolve(),
      }) as unknown as FileHandle;
    const files = [new SyncBehind(fake()), new SyncBehind(fake())];
    for (let i = 0; i < 8; i++) {
      for (const file of files) file.wrote(16 * 1024 * 1024);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await Promise.all(files.map((file) => file.sync()));
    expect(most).toBe(1);
    expect(flushes).toBeGreaterThanOrEqual(8);
  });

  it('throws the error of a background flush from sync(), even when the final fsync succeeds', async () => {
    const failing = {
      datasync: () => Promise.reject(Object.assign(new Error('EIO: i/o error'), { code: 'EIO' })),
      sync: () => Promise.resolve(),
    } as unknown as FileHandle;
    const durable = new SyncBehind(failing);
    durable.wrote(64 * 1024 * 1024);
    await expect(durable.sync()).rejects.toMatchObject({ code: 'EIO' });
  });
});

describe('isNotFound', () => {
  it('is ENOENT, and ENOTDIR only when asked', async () => {
    const missing = await readFile(join(dir, 'absent')).catch((e: unknown) => e);
    await writeFile(join(dir, 'file'), '');
    const notDir = await readFile(join(dir, 'file', 'below')).catch((e: unknown) => e);
    expect(isNotFound(missing)).toBe(true);
    expect(isNotFound(notDir)).toBe(false);
    expect(isNotFound(notDir, { notDirectory: true })).toBe(true);
    expect(isNotFound(new Error('other'))).toBe(false);
    expect(isNotFound(undefined)).toBe(false);
  });
});
