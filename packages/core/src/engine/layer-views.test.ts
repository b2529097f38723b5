import { describe, expect, it } from 'vitest';
import type { LayerEntry } from '../layer/entry.js';
import { readLayerRecords } from '../layer/fs-view.js';
import { tarStream } from '../layer/tar-writer.js';
import { recordsOfEntries } from './layer-views.js';

const owner = { mode: 0o755, uid: 0, gid: 0 };
const bytes = (text: string) => ({ kind: 'bytes' as const, data: Buffer.from(text) });

describe('recordsOfEntries', () => {
  it('gives what reading the tar of the same entries gives', async () => {
    const entries: LayerEntry[] = [
      { type: 'dir', path: 'app', ...owner },
      { type: 'file', path: 'app/.wh..wh..opq', mode: 0, uid: 0, gid: 0, size: 0, content: bytes('') },
      {
        type: 'file',
        path: 'app/server.js',
        mode: 0o644,
        uid: 1000,
        gid: 1000,
        size: 2,
        content: bytes('hi'),
      },
      {
        type: 'hardlink',
        path: 'app/same.js',
        mode: 0o644,
        uid: 1000,
        gid: 1000,
        linkTarget: 'app/server.js',
      },
      { type: 'symlink', path: 'app/current', mode: 0o777, uid: 0, gid: 0, linkTarget: '../srv' },
      { type: 'file', path: '.wh.tmp', mode: 0, uid: 0, gid: 0, size: 0, content: bytes('') },
      { type: 'dir', path: 'etc', mode: 0o4755, uid: 5, gid: 6 },
      { type: 'file', path: 'etc/.wh.motd', mode: 0, uid: 0, gid: 0, size: 0, content: bytes('') },
    ];
    const fromTar = await readLayerRecords(tarStream(entries, { mtime: 0 }));
    expect(recordsOfEntries(entries)).toEqual(fromTar);
    expect(fromTar.map((r) => r.op)).toEqual([
      'set',
      'opaque',
      'set',
      'set',
      'set',
      'whiteout',
      'set',
      'whiteout',
    ]);
  });
});
