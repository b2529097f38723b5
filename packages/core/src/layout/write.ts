/**
 * The sink side: write images into an OCI image layout directory.
 *
 * `writeLayout` builds the whole layout in a temp directory beside the destination and renames it into
 * place at the end; an existing layout there is replaced only once the new one is complete (and not at
 * all when it already holds exactly what would be written), and any
 * failure (a layer stream that breaks, a digest that does not match, a full disk) removes the temp
 * directory, so no partial output is ever left. Blobs the store holds are hardlinked (place.ts).
 * `appendImage` adds an image to an existing layout: missing blobs are written to temp files and
 * renamed, and `index.json` is replaced last, atomically.
 */
import { createReadStream } from 'node:fs';
import { lstat, mkdir, readdir, readFile, rename, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { WharfError } from '../errors.js';
import { isNotFound, siblingTemp, syncDirectory, writeFileAtomic } from '../fsutil/files.js';
import { mapLimit } from '../fsutil/limit.js';
import {
  ANNOTATION_IMAGE_NAME,
  ANNOTATION_REF_NAME,
  blobsOf,
  buildIndex,
  hashStream,
  type Image,
  type ImageBlob,
  type ImageIndex,
  type NamedImage,
  type NamedIndex,
  OCI_LAYOUT_BYTES,
  verified,
} from '../image/index.js';
import {
  type Descriptor,
  digestAlgorithm,
  encodeJson,
  type ImageIndex as OciImageIndex,
} from '../oci/index.js';
import { LayoutError } from './errors.js';
import { removeQuietly, writeNewFile } from './files.js';
import { fileBehind, linkingDisabled, placeFile, sameFile } from './place.js';
import { blobPath } from './read.js';

export interface LayoutResult {
  /** The index written as `index.json`. */
  readonly index: OciImageIndex;
  /** The directory. */
  readonly dir: string;
}

/** Blobs and files written at once: enough to overlap fsyncs, few enough not to thrash a disk with streams. */
const LAYOUT_WRITERS = 4;

/** What to write: one image, one image or multi-platform index with names, or several. */
export type LayoutInput = Image | NamedImage | NamedIndex | readonly (NamedImage | NamedIndex)[];

function entriesOf(input: LayoutInput): readonly (NamedImage | NamedIndex)[] {
  if (Array.isArray(input)) return input as readonly (NamedImage | NamedIndex)[];
  if ('image' in (input as NamedImage) || 'index' in (input as NamedIndex))
    return [input as NamedImage | NamedIndex];
  return [{ image: input as Image }];
}

/** What an entry points at: the image, or the index of a multi-platform image. */
function contentOf(entry: NamedImage | NamedIndex): Image | ImageIndex {
  return 'index' in entry ? entry.index : entry.image;
}

/** Writing failed for a reason that is not already a WharfError: say where. */
function wrap(error: unknown, dir: string): unknown {
  if (error instanceof WharfError) return error;
  return new LayoutError(
    'LAYOUT_WRITE_FAILED',
    `writing the image layout ${dir} failed: ${(error as Error).message}`,
    {
      hint: 'check the destination (space, permissions); nothing was left behind',
      cause: error,
    },
  );
}

/** Throws unless `dir` is absent, an empty directory or an image layout (the things we may replace). */
async function checkReplaceable(dir: string): Promise<boolean> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(dir);
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
  if (info.isDirectory()) {
    const names = await readdir(dir);
    if (names.length === 0 || names.includes('oci-layout')) return true;
  }
  throw new LayoutError(
    'LAYOUT_DEST_IN_USE',
    `${dir} exists and is not an OCI image layout; refusing to replace it`,
    { hint: 'choose a new directory, an empty one, or an existing layout (which is replaced)' },
  );
}

/**
 * Puts one blob at `path`: a file the store opened is linked (or reflinked/copied, see place.ts),
 * anything else is streamed and verified against its digest and size.
 */
async function writeBlob(blob: ImageBlob, path: string): Promise<void> {
  const { digest, size } = blob.descriptor;
  let stream = await blob.open();
  const file = linkingDisabled() ? undefined : fileBehind(stream, digest);
  if (file !== undefined) {
    stream.destroy();
    if (await placeFile(file, path, size)) return;
    stream = await blob.open();
  }
  await writeNewFile(path, verified(stream, { digest, size, what: blob.what }));
}

/**
 * Whether the file at `path` already holds `blob`: the same inode as the store's file (a link an
 * earlier write made), else a regular file of the right size (at most `hashLimit` bytes) whose bytes
 * hash to the digest.
 */
async function alreadyThere(
  blob: ImageBlob,
  path: string,
  hashLimit = Number.POSITIVE_INFINITY,
): Promise<boolean> {
  const { digest, size } = blob.descriptor;
  const there = await lstat(path).catch(() => undefined);
  if (!there?.isFile() || there.size !== size) return false;
  const stream = await blob.open();
  const file = fileBehind(stream, digest);
  stream.destroy();
  if (file !== undefined && sameFile(there, await stat(file))) return true;
  return size <= hashLimit && (await hashStream(createReadStream(path))).digest === digest;
}

/** The largest blob `holdsAlready` reads back to compare; a larger one that is not a link is rewritten. */
const COMPARE_LIMIT = 1024 * 1024;

/**
 * Whether the layout at `dir` already is what writing would make: the same `index.json` and
 * `oci-layout` bytes, and every blob in place — a store blob as a link to the store's file, a small one
 * (config, manifest) hashing to its digest. Then nothing is rewritten (no copies, no fsyncs): a
 * no-change rebuild into its old output costs a few stats.
 */
async function holdsAlready(dir: string, bytes: Uint8Array, blobs: readonly ImageBlob[]): Promise<boolean> {
  const read = (name: string) => readFile(join(dir, name)).catch(() => undefined);
  const [index, layout] = await Promise.all([read('index.json'), read('oci-layout')]);
  if (!index?.equals(bytes) || !layout?.equals(OCI_LAYOUT_BYTES)) return false;
  const present = await Promise.all(
    blobs.map((blob) => alreadyThere(blob, blobPath(dir, blob.descriptor.digest), COMPARE_LIMIT)),
  );
  return present.every(Boolean);
}

/**
 * Writes `input` as a fresh OCI image layout at `dir` (atomically; see the module doc). Names become
 * `index.json` entries annotated the way BuildKit does: `org.opencontainers.image.ref.name` is the tag
 * (`latest`), `io.containerd.image.name` the full reference (`docker.io/library/hello:latest`).
 */
export async function writeLayout(dir: string, input: LayoutInput): Promise<LayoutResult> {
  const entries = entriesOf(input);
  const exists = await checkReplaceable(dir);
  const { index, bytes } = await buildIndex(entries);
  const blobs = await blobsOf(entries.map(contentOf));
  if (exists && (await holdsAlready(dir, bytes, blobs))) return { index, dir };
  await mkdir(dirname(dir), { recursive: true });
  const temp = siblingTemp(dir, 'tmp');
  try {
    const algorithms = new Set(['sha256', ...blobs.map((b) => digestAlgorithm(b.descriptor.digest))]);
    for (const algorithm of algorithms) await mkdir(join(temp, 'blobs', algorithm), { recursive: true });
    // Files side by side: their fsyncs overlap (one journal commit for several on ext4) instead of
    // queueing one after another, which was most of a linked no-change output's time.
    const files: (() => Promise<void>)[] = [
      ...blobs.map((blob) => () => writeBlob(blob, blobPath(temp, blob.descriptor.digest))),
      () => writeNewFile(join(temp, 'oci-layout'), OCI_LAYOUT_BYTES),
      () => writeNewFile(join(temp, 'index.json'), bytes),
    ];
    await mapLimit(files, LAYOUT_WRITERS, (write) => write());
    await Promise.all([...algorithms].map((algorithm) => syncDirectory(join(temp, 'blobs', algorithm))));
    await syncDirectory(temp);
    if (exists) {
      const old = siblingTemp(dir, 'old');
      await rename(dir, old);
      try {
        await rename(temp, dir);
      } catch (error) {
        await rename(old, dir).catch(() => {});
        throw error;
      }
      await removeQuietly(old);
    } else {
      await rename(temp, dir);
    }
    await syncDirectory(dirname(dir));
  } catch (error) {
    await removeQuietly(temp);
    throw wrap(error, dir);
  }
  return { index, dir };
}

function sameName(a: Descriptor, b: Descriptor): boolean {
  const x = a.annotations ?? {};
  const y = b.annotations ?? {};
  if (x[ANNOTATION_REF_NAME] === undefined || x[ANNOTATION_REF_NAME] !== y[ANNOTATION_REF_NAME]) return false;
  return x[ANNOTATION_IMAGE_NAME] === y[ANNOTATION_IMAGE_NAME];
}

/**
 * Adds `input` to the layout at `dir` (creating it if absent). Blobs already present are kept; an
 * existing entry with the same name (ref name and image name) is replaced, so a tag moves. Blobs the
 * old entry used stay until a garbage collection (none yet). `index.json` is rewritten last, atomically.
 */
export async function appendImage(dir: string, input: LayoutInput): Promise<LayoutResult> {
  let rawIndex: Buffer;
  try {
    rawIndex = await readFile(join(dir, 'index.json'));
  } catch (error) {
    if (isNotFound(error)) return writeLayout(dir, input);
    throw error;
  }
  try {
    await stat(join(dir, 'oci-layout'));
  } catch (cause) {
    throw new LayoutError('LAYOUT_NOT_A_LAYOUT', `${dir} has an index.json but no oci-layout`, {
      hint: 'append only to a layout written by an OCI tool',
      cause,
    });
  }
  const existing = JSON.parse(rawIndex.toString('utf8')) as OciImageIndex;
  const entries = entriesOf(input);
  const { index: added } = await buildIndex(entries);
  const blobs = await blobsOf(entries.map(contentOf));
  const created: string[] = [];
  try {
    for (const blob of blobs) {
      const path = blobPath(dir, blob.descriptor.digest);
      if (await alreadyThere(blob, path)) continue;
      await mkdir(dirname(path), { recursive: true });
      const temp = siblingTemp(path);
      created.push(temp);
      await writeBlob(blob, temp);
      await rename(temp, path);
    }
    const manifests = [
      ...existing.manifests.filter((old) => !added.manifests.some((d) => sameName(old, d))),
      ...added.manifests,
    ];
    const index: OciImageIndex = { ...existing, manifests };
    await writeFileAtomic(join(dir, 'index.json'), encodeJson(index)); // fsyncs the file and `dir`
    return { index, dir };
  } catch (error) {
    for (const path of created) await removeQuietly(path);
    throw wrap(error, dir);
  }
}
