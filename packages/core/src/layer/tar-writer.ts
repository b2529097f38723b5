/**
 * Planned entries → tar bytes, streaming, deterministic. Entries are written in the given order;
 * headers are USTAR, with a PAX extended header where USTAR cannot hold a value (long or non-ASCII
 * names and link targets, big uids) — what `tar-stream` does. Every mtime is the same fixed time
 * (SOURCE_DATE_EPOCH, else the Unix epoch); no atime/ctime; uname/gname are empty; ownership and
 * modes are the plan's. File contents are streamed from disk (or from the ADDed archive) with
 * backpressure, so memory stays flat whatever the sizes.
 */
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pack as tarPack } from 'tar-stream';
import { WharfError } from '../errors.js';
import { type ArchiveMember, readArchive } from './archive.js';
import type { FileContent, LayerEntry } from './entry.js';

export type TarWriterErrorCode = 'LAYER_SOURCE_CHANGED' | 'LAYER_BAD_EPOCH';

export interface TarWriteOptions {
  /** The mtime of every entry, in seconds since the epoch. Default {@link sourceDateEpoch}(). */
  readonly mtime?: number;
}

/** `SOURCE_DATE_EPOCH` (whole seconds) when set and non-empty, else 0 (1970-01-01T00:00:00Z). */
export function sourceDateEpoch(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.SOURCE_DATE_EPOCH;
  if (raw === undefined || raw.trim() === '') return 0;
  if (!/^\s*[0-9]+\s*$/.test(raw)) {
    throw new WharfError<TarWriterErrorCode>(
      'LAYER_BAD_EPOCH',
      `SOURCE_DATE_EPOCH=${raw} is not a whole number of seconds`,
      {
        hint: 'set it to a Unix timestamp, e.g. SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)',
      },
    );
  }
  return Number.parseInt(raw, 10);
}

const TYPE_BITS = { dir: 0o040000, file: 0o100000, symlink: 0o120000, hardlink: 0o100000 } as const;
const MAX_USTAR_ID = 0o7777777;

/** The tar of `entries` as a Node stream (pull-driven: nothing is read before the consumer asks). */
export function tarStream(
  entries: Iterable<LayerEntry> | AsyncIterable<LayerEntry>,
  options: TarWriteOptions = {},
): Readable {
  const mtime = new Date((options.mtime ?? sourceDateEpoch()) * 1000);
  const pack = tarPack();
  const archives = new ArchiveCursors();
  const feed = async () => {
    try {
      for await (const entry of entries) await writeEntry(pack, entry, mtime, archives);
      pack.finalize();
    } catch (error) {
      pack.destroy(error as Error);
    } finally {
      await archives.close();
    }
  };
  void feed();
  return Readable.from(pack as AsyncIterable<Buffer>, { objectMode: false });
}

type Pack = ReturnType<typeof tarPack>;

async function writeEntry(
  pack: Pack,
  entry: LayerEntry,
  mtime: Date,
  archives: ArchiveCursors,
): Promise<void> {
  const pax: Record<string, string> = {};
  let uid = entry.uid;
  let gid = entry.gid;
  if (uid > MAX_USTAR_ID) {
    pax.uid = String(uid);
    uid = 0;
  }
  if (gid > MAX_USTAR_ID) {
    pax.gid = String(gid);
    gid = 0;
  }
  const header = {
    name: entry.type === 'dir' ? `${entry.path}/` : entry.path,
    mode: (entry.mode & 0o7777) | TYPE_BITS[entry.type], // type bits keep tar-stream from defaulting a 0 mode
    uid,
    gid,
    uname: '',
    gname: '',
    mtime,
    size: entry.type === 'file' ? entry.size : 0,
    type: (entry.type === 'dir' ? 'directory' : entry.type === 'hardlink' ? 'link' : entry.type) as
      | 'directory'
      | 'file'
      | 'symlink'
      | 'link',
    ...(entry.type === 'symlink' || entry.type === 'hardlink' ? { linkname: entry.linkTarget } : {}),
    ...(Object.keys(pax).length > 0 ? { pax } : {}),
  };
  if (entry.type !== 'file') {
    await new Promise<void>((resolve, reject) => {
      pack.entry(header, (error) => (error ? reject(error) : resolve()));
    });
    return;
  }
  let done!: Promise<void>;
  const sink = await new Promise<ReturnType<Pack['entry']>>((resolveSink) => {
    done = new Promise<void>((resolve, reject) => {
      resolveSink(pack.entry(header, (error) => (error ? reject(error) : resolve())));
    });
  });
  done.catch(() => {}); // a failure is reported through the pack stream
  sink.on('error', () => {});
  let written = 0;
  if (entry.size > 0) {
    for await (const chunk of await openContent(entry.content, entry.size, archives)) {
      const buf = chunk as Buffer;
      const room = entry.size - written;
      const part = buf.byteLength > room ? buf.subarray(0, room) : buf;
      written += part.byteLength;
      if (part.byteLength > 0 && !sink.write(part)) {
        await new Promise<void>((resolve) => sink.once('drain', () => resolve()));
      }
      if (written >= entry.size) break;
    }
  }
  if (written !== entry.size) {
    const error = new WharfError<TarWriterErrorCode>(
      'LAYER_SOURCE_CHANGED',
      `${describe(entry.content)} changed while the layer was written: expected ${entry.size} bytes, read ${written}`,
      { hint: 'do not modify the build context during a build' },
    );
    throw error; // feed() destroys the pack with it
  }
  (sink as unknown as NodeJS.WritableStream).end();
  await done;
}

function describe(content: FileContent): string {
  switch (content.kind) {
    case 'path':
      return content.path;
    case 'archive':
      return `member ${content.member} of ${content.archive}`;
    case 'bytes':
      return 'in-memory content';
  }
}

async function openContent(
  content: FileContent,
  size: number,
  archives: ArchiveCursors,
): Promise<AsyncIterable<unknown> | Iterable<unknown>> {
  switch (content.kind) {
    case 'path':
      return createReadStream(content.path, { start: 0, end: size - 1, highWaterMark: 256 * 1024 });
    case 'bytes':
      return [Buffer.from(content.data.buffer, content.data.byteOffset, content.data.byteLength)];
    case 'archive':
      return (await archives.member(content)).content;
  }
}

/** Sequential readers over ADDed archives: members are asked for in archive order, so one pass each. */
class ArchiveCursors {
  readonly #open = new Map<string, { iter: AsyncGenerator<ArchiveMember>; last: number }>();

  async member(content: Extract<FileContent, { kind: 'archive' }>): Promise<ArchiveMember> {
    let cursor = this.#open.get(content.archive);
    if (!cursor || cursor.last >= content.member) {
      await cursor?.iter.return(undefined);
      cursor = { iter: readArchive(content.archive, content.compression), last: -1 };
      this.#open.set(content.archive, cursor);
    }
    for (;;) {
      const next = await cursor.iter.next();
      if (next.done) {
        throw new WharfError<TarWriterErrorCode>(
          'LAYER_SOURCE_CHANGED',
          `${content.archive} changed while the layer was written: member ${content.member} is gone`,
        );
      }
      cursor.last = next.value.index;
      if (next.value.index === content.member) return next.value;
    }
  }

  async close(): Promise<void> {
    for (const { iter } of this.#open.values()) await iter.return(undefined).catch(() => {});
    this.#open.clear();
  }
}
