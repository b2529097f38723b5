// Small file helpers for the layout writer: stream into a new file with fsync, and remove quietly.
import { type FileHandle, open, rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { SyncBehind } from '../fsutil/files.js';

/** Writes `source` into a new file at `path` (exclusive create), fsyncs and closes it. */
export async function writeNewFile(path: string, source: Readable | Uint8Array): Promise<void> {
  const handle: FileHandle = await open(path, 'wx', 0o644);
  try {
    const durable = new SyncBehind(handle);
    if (source instanceof Uint8Array) {
      await handle.writeFile(source);
    } else {
      for await (const chunk of source) await durable.write(chunk as Buffer);
    }
    await durable.sync();
  } catch (error) {
    if (!(source instanceof Uint8Array)) source.destroy();
    throw error;
  } finally {
    await handle.close();
  }
}

/** `rm -rf`, never throwing. */
export async function removeQuietly(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true }).catch(() => {});
}
