// write-tar: the same bytes tar-stream's pack() wrote (archive digests must not change), verification
// while copying, temp-file + rename on failure, and a pull-driven stream.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import { afterAll, describe, expect, it } from 'vitest';
import { type Digest, sha256Digest } from '../oci/index.js';
import { scratchDirs } from '../testing/scratch.js';
import { type TarFile, type TarOptions, tarStream, writeTarFile } from './write-tar.js';

const scratch = scratchDirs('wharf-write-tar-test-');
afterAll(scratch.remove);
const freshDir = scratch.fresh;

/** A file to archive, with its whole content at hand for the reference. */
interface Case {
  readonly file: TarFile;
  readonly content?: Buffer;
}

/**
 * The tar the previous implementation wrote for `cases`: the same header fields given to tar-stream's
 * `pack()`, bodies as buffers.
 */
async function referenceTar(cases: readonly Case[], options: TarOptions = {}): Promise<Buffer> {
  const mtime = options.mtime ?? new Date(0);
  const tar = pack();
  const chunks: Buffer[] = [];
  tar.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
  const done = new Promise<void>((resolve) => tar.on('end', () => resolve()));
  for (const { file, content } of cases) {
    const directory = file.type === 'directory';
    const header = {
      name: directory ? `${file.name.replace(/\/+$/, '')}/` : file.name,
      type: directory ? ('directory' as const) : ('file' as const),
      mode: directory ? 0o755 : 0o644,
      mtime,
      uid: 0,
      gid: 0,
      uname: '',
      gname: '',
      size: directory ? 0 : (file.bytes?.byteLength ?? file.size ?? 0),
    };
    await new Promise<void>((resolve, reject) => {
      const callback = (error?: Error | null) => (error ? reject(error) : resolve());
      if (directory) tar.entry(header, callback);
      else tar.entry(header, Buffer.from(file.bytes ?? content ?? Buffer.alloc(0)), callback);
    });
  }
  tar.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** Deterministic bytes. */
function bytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** `content` cut into pieces of the given sizes (cycled), as Buffers or plain Uint8Arrays. */
function pieces(content: Buffer, sizes: readonly number[], plain = false): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0, i = 0; at < content.byteLength; i++) {
    const size = sizes[i % sizes.length] as number;
    const piece = content.subarray(at, at + size);
    out.push(plain ? new Uint8Array(piece) : piece);
    at += size;
  }
  return out;
}

const digestOf = (content: Buffer): Digest => sha256Digest(content);

/** A streamed entry of `content`, read in `sizes` pieces, verified unless `verify` is false. */
function streamed(
  name: string,
  content: Buffer,
  sizes: readonly number[],
  verify = true,
  plain = false,
): Case {
  return {
    content,
    file: {
      name,
      size: content.byteLength,
      open: async () => Readable.from(pieces(content, sizes, plain)),
      ...(verify ? { expected: { digest: digestOf(content), what: `blob ${name}` } } : {}),
    },
  };
}

async function streamBytes(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const MiB = 1024 * 1024;

/** Everything the two archive formats write, and the corners of the tar format around it. */
function variety(): Case[] {
  return [
    { file: { name: 'oci-layout', bytes: Buffer.from('{"imageLayoutVersion":"1.0.0"}') } },
    { file: { name: 'blobs', type: 'directory' } },
    { file: { name: 'blobs/sha256//', type: 'directory' } },
    { file: { name: 'empty', bytes: new Uint8Array(0) } },
    { file: { name: 'exactly-one-block', bytes: bytes(512, 1) } },
    streamed('blobs/sha256/small', bytes(1000, 2), [7, 300, 1]),
    streamed('blobs/sha256/empty-stream', Buffer.alloc(0), [1]),
    streamed('blobs/sha256/plain-arrays', bytes(70_000, 3), [65_536], true, true),
    // crosses several output chunks, in the fs.ReadStream's piece size and in odd ones
    streamed('blobs/sha256/big', bytes(3 * MiB + 123, 4), [64 * 1024]),
    streamed('blobs/sha256/odd-pieces', bytes(MiB + 511, 5), [1, 4095, 99_999, 513]),
    streamed('blobs/sha256/one-piece-over-a-chunk', bytes(2 * MiB + 1, 6), [4 * MiB], false),
    { file: { name: `${'d'.repeat(60)}/${'e'.repeat(60)}/prefixed.json`, bytes: bytes(20, 7) } },
    { file: { name: 'données/été.json', bytes: Buffer.from('{"é":1}') } },
    { file: { name: `${'long/'.repeat(60)}pax`, bytes: bytes(600, 8) } },
    { file: { name: 'manifest.json', bytes: Buffer.from('[]') } },
  ];
}

describe('writeTarFile and tarStream', () => {
  it('write what tar-stream wrote, byte for byte', async () => {
    const cases = variety();
    const expected = await referenceTar(cases);
    const file = join(freshDir(), 'out.tar');
    const { size } = await writeTarFile(
      file,
      cases.map((c) => c.file),
    );
    const written = readFileSync(file);
    expect(size).toBe(expected.byteLength);
    expect(sha256Digest(written)).toBe(sha256Digest(expected));
    const streamedOut = await streamBytes(tarStream(cases.map((c) => c.file)));
    expect(sha256Digest(streamedOut)).toBe(sha256Digest(expected));
  });

  it('take entries from an async iterable, with another mtime', async () => {
    const cases = variety().slice(0, 8);
    const options = { mtime: new Date('2023-11-14T22:13:20.750Z') };
    async function* files() {
      for (const c of cases) yield c.file;
    }
    const expected = await referenceTar(cases, options);
    const file = join(freshDir(), 'out.tar');
    await writeTarFile(file, files(), options);
    expect(readFileSync(file).equals(expected)).toBe(true);
    expect((await streamBytes(tarStream(files(), options))).equals(expected)).toBe(true);
  });

  it('handle a PAX header longer than an output chunk, first or after other entries', async () => {
    const huge = `dir/${'p'.repeat(1_100_000)}`; // no split point: a PAX path record
    for (const cases of [
      [{ file: { name: huge, bytes: bytes(10, 1) } }],
      [{ file: { name: 'a', bytes: bytes(100, 2) } }, { file: { name: huge, bytes: bytes(10, 3) } }],
    ] satisfies Case[][]) {
      const file = join(freshDir(), 'out.tar');
      await writeTarFile(
        file,
        cases.map((c) => c.file),
      );
      expect(readFileSync(file).equals(await referenceTar(cases))).toBe(true);
    }
  });
});

describe('writeTarFile failures', () => {
  const existing = (dir: string) => {
    const file = join(dir, 'img.tar');
    writeFileSync(file, 'the previous archive');
    return file;
  };

  it('a blob that does not hash to its digest fails the archive, leaves nothing, keeps the old one', async () => {
    const dir = freshDir();
    const file = existing(dir);
    const content = bytes(200_000, 9);
    const wrong = { ...streamed('blobs/sha256/x', content, [65_536]).file };
    const bad: TarFile = { ...wrong, expected: { digest: digestOf(bytes(10, 1)), what: 'layer 1 of img' } };
    await expect(writeTarFile(file, [{ name: 'a', bytes: bytes(10, 2) }, bad])).rejects.toMatchObject({
      code: 'IMAGE_DIGEST_MISMATCH',
      message: expect.stringMatching(
        /^layer 1 of img: content hashes to sha256:[0-9a-f]{64}, but its descriptor/,
      ),
    });
    expect(readdirSync(dir)).toEqual(['img.tar']);
    expect(readFileSync(file, 'utf8')).toBe('the previous archive');
  });

  it('a blob longer or shorter than its size fails the archive, verified or not', async () => {
    const dir = freshDir();
    const file = existing(dir);
    const content = bytes(100_000, 10);
    const { file: good } = streamed('blob', content, [65_536]);
    const expected = { digest: digestOf(content), what: 'config of img' };
    await expect(writeTarFile(file, [{ ...good, size: 99_999, expected }])).rejects.toMatchObject({
      code: 'IMAGE_SIZE_MISMATCH',
      message: 'config of img: read more than 100000 bytes, but its descriptor says 99999',
    });
    await expect(writeTarFile(file, [{ ...good, size: 100_001, expected }])).rejects.toMatchObject({
      code: 'IMAGE_SIZE_MISMATCH',
      message: 'config of img: read 100000 bytes, but its descriptor says 100001',
    });
    const { expected: _, ...unverified } = good;
    await expect(writeTarFile(file, [{ ...unverified, size: 1000 }])).rejects.toMatchObject({
      code: 'ARCHIVE_WRITE_FAILED',
      message: expect.stringMatching(
        /failed: tar entry blob: read more than 65536 bytes, but its size is 1000$/,
      ),
    });
    await expect(writeTarFile(file, [{ ...unverified, size: 100_001 }])).rejects.toMatchObject({
      code: 'ARCHIVE_WRITE_FAILED',
    });
    expect(readdirSync(dir)).toEqual(['img.tar']);
    expect(readFileSync(file, 'utf8')).toBe('the previous archive');
  });

  it('a source that fails fails the archive (wrapped, naming the destination) and is destroyed', async () => {
    const dir = freshDir();
    const file = existing(dir);
    let destroyed = false;
    const source = new Readable({
      read() {
        this.push(Buffer.alloc(3 * MiB, 1)); // more than one output chunk is written first
        this.destroy(new Error('disk on fire'));
      },
      destroy(error, callback) {
        destroyed = true;
        callback(error);
      },
    });
    const files: TarFile[] = [{ name: 'x', size: 10 * MiB, open: async () => source }];
    await expect(writeTarFile(file, files)).rejects.toMatchObject({
      code: 'ARCHIVE_WRITE_FAILED',
      message: `writing ${file} failed: disk on fire`,
    });
    expect(destroyed).toBe(true);
    expect(readdirSync(dir)).toEqual(['img.tar']);
  });

  it('a destination that cannot be written fails before any blob is opened', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'not-a-dir'), '');
    let opened = false;
    const files: TarFile[] = [
      {
        name: 'x',
        size: 1,
        open: async () => {
          opened = true;
          return Readable.from([Buffer.from('x')]);
        },
      },
    ];
    await expect(writeTarFile(join(dir, 'not-a-dir', 'out.tar'), files)).rejects.toMatchObject({
      code: 'ARCHIVE_WRITE_FAILED',
    });
    expect(opened).toBe(false);
  });
});

describe('tarStream', () => {
  it('reads blobs only as fast as the consumer takes bytes, and stops them when destroyed', async () => {
    let produced = 0;
    let destroyed = false;
    const chunk = Buffer.alloc(64 * 1024, 7);
    const source = new Readable({
      read() {
        produced += chunk.byteLength;
        this.push(chunk);
      },
      destroy(error, callback) {
        destroyed = true;
        callback(error);
      },
    });
    const opened: string[] = [];
    const files: TarFile[] = ['first', 'second'].map((name) => ({
      name,
      size: 1024 * MiB,
      open: async () => {
        opened.push(name);
        return source;
      },
    }));
    const stream = tarStream(files);
    // paused mode: one read(), then nobody asks for more
    await new Promise((resolve) => stream.once('readable', resolve));
    const first = stream.read(512) as Buffer;
    expect(first.subarray(0, 5).toString()).toBe('first');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(produced).toBeLessThan(8 * MiB);
    stream.destroy();
    await new Promise((resolve) => stream.once('close', resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(destroyed).toBe(true);
    expect(opened).toEqual(['first']);
  });

  it('fails the stream when a blob does not match', async () => {
    const content = bytes(5000, 11);
    const { file } = streamed('blob', content, [1000]);
    const stream = tarStream([{ ...file, expected: { digest: digestOf(bytes(1, 1)), what: 'layer 2' } }]);
    await expect(streamBytes(stream)).rejects.toMatchObject({ code: 'IMAGE_DIGEST_MISMATCH' });
  });
});

describe('byte identity at scale', () => {
  it('many entries, buffers reused across chunks: same digest as the reference', async () => {
    const cases: Case[] = [];
    for (let i = 0; i < 40; i++) {
      if (i % 10 === 0) cases.push({ file: { name: `dir-${i}`, type: 'directory' } });
      const content = bytes(((i * 7919) % 300_000) + (i % 3 === 0 ? 512 : 1), i + 100);
      cases.push(
        i % 2 === 0
          ? streamed(
              `blobs/sha256/${createHash('sha256').update(content).digest('hex')}`,
              content,
              [65_536, 1],
            )
          : { file: { name: `small-${i}.json`, bytes: content } },
      );
    }
    const file = join(freshDir(), 'many.tar');
    await writeTarFile(
      file,
      cases.map((c) => c.file),
    );
    expect(sha256Digest(readFileSync(file))).toBe(sha256Digest(await referenceTar(cases)));
  });
});
