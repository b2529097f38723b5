import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { planCopy } from './copy-plan.js';
import { MemoryFsView } from './fs-view.js';
import { openContextSource } from './source.js';
import { recordReads, replayReads, type SourceReads } from './source-reads.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'wharf-source-reads-'));
  mkdirSync(join(dir, 'app/lib'), { recursive: true });
  writeFileSync(join(dir, 'app/index.js'), 'main');
  writeFileSync(join(dir, 'app/lib/util.js'), 'util');
  writeFileSync(join(dir, 'app/debug.log'), 'log');
  symlinkSync('lib/util.js', join(dir, 'app/link.js'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const ignore = ['**/*.log'];

/** What planning `COPY app /app` reads from the context as it is now. */
async function planned(patterns = ignore): Promise<SourceReads> {
  const recording = recordReads(await openContextSource(dir, { ignore: patterns }));
  await planCopy({ sources: ['app'], dest: '/app', source: recording.tree, view: new MemoryFsView() });
  return recording.reads();
}

async function replayed(reads: SourceReads, patterns = ignore): Promise<string | undefined> {
  return replayReads(await openContextSource(dir, { ignore: patterns }), reads.record.join(''));
}

describe('recordReads / replayReads', () => {
  it('gives the recorded digest while the context is unchanged, and asked every lstat and readdir', async () => {
    const reads = await planned();
    const questions = reads.record.join('').split('\0');
    expect(questions).toContain('dapp/lib');
    expect(questions).toContain('lapp/link.js');
    expect(questions).not.toContain('lapp/debug.log'); // ignored: never listed
    expect(await replayed(reads)).toBe(reads.digest);
    expect((await planned()).digest).toBe(reads.digest);
    // answered at once (`sync`) or one promise each, and with `!` exceptions (the walked context)
    const lazy = await openContextSource(dir, { ignore });
    expect(lazy.sync).toBeDefined();
    const { sync: _, ...waiting } = lazy;
    expect(await replayReads(waiting, reads.record.join(''))).toBe(reads.digest);
    expect(await replayed(reads, [...ignore, '!nothing'])).toBe(reads.digest);
  });

  it.each([
    ['a file’s content and size', () => writeFileSync(join(dir, 'app/lib/util.js'), 'util2')],
    ['a file’s mtime alone', () => utimesSync(join(dir, 'app/index.js'), 1, 1)],
    ['a mode', () => chmodSync(join(dir, 'app/index.js'), 0o600)],
    ['a new file', () => writeFileSync(join(dir, 'app/lib/new.js'), '')],
    ['a removed file', () => rmSync(join(dir, 'app/index.js'))],
    [
      'a file replaced by another with the same content (inode)',
      () => {
        rmSync(join(dir, 'app/index.js'));
        writeFileSync(join(dir, 'app/index.js'), 'main');
        utimesSync(join(dir, 'app/index.js'), 1, 1);
      },
    ],
    [
      'a symlink’s target',
      () => {
        rmSync(join(dir, 'app/link.js'));
        symlinkSync('index.js', join(dir, 'app/link.js'));
      },
    ],
  ])('gives another digest after a change of %s', async (_what, change) => {
    const reads = await planned();
    change();
    expect(await replayed(reads)).not.toBe(reads.digest);
  });

  it('gives another digest when the ignore rules keep another set of files', async () => {
    const reads = await planned();
    expect(await replayed(reads, [])).not.toBe(reads.digest);
    writeFileSync(join(dir, 'app/other.log'), 'ignored, so unseen');
    expect(await replayed(reads)).toBe(reads.digest);
  });

  it('rejects when a directory it read can no longer be read', async () => {
    const reads = await planned();
    if (process.getuid?.() === 0) return expect(await replayed(reads)).toBe(reads.digest); // root reads anything
    chmodSync(join(dir, 'app/lib'), 0o000);
    try {
      await expect(replayed(reads)).rejects.toThrow(/cannot read app\/lib/);
    } finally {
      chmodSync(join(dir, 'app/lib'), 0o755);
    }
  });
});

describe('the record of the questions', () => {
  it('holds any path (a newline, a tab, non-ASCII); a torn or altered record gives no digest or another', async () => {
    writeFileSync(join(dir, 'app/a\nb\tc ünï 😀.js'), 'odd');
    const reads = await planned();
    const text = reads.record.join('');
    expect(text.split('\0')).toContain('lapp/a\nb\tc ünï 😀.js');
    expect(await replayed(reads)).toBe(reads.digest);
    const tree = await openContextSource(dir, { ignore });
    expect(await replayReads(tree, text.slice(0, -1))).toBeUndefined();
    expect(await replayReads(tree, `x${text}`)).toBeUndefined();
    // fewer questions (a record cut at a question's end) prove nothing about the rest
    expect(await replayReads(tree, text.slice(0, text.indexOf('\0') + 1))).not.toBe(reads.digest);
    expect(await replayReads(tree, '')).not.toBe(reads.digest);
  });
});
