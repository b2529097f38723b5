/**
 * `oci-archive`: a tar of an OCI image layout (what `skopeo copy … oci-archive:FILE` and BuildKit's
 * `type=oci` exporter write). Entry order is fixed — `oci-layout`, `index.json`, `blobs/`,
 * `blobs/sha256/`, then each blob once (per image: layers, config, manifest) — and so is every header,
 * so the same images always give the same bytes.
 */
import {
  blobsOf,
  buildIndex,
  type Image,
  type ImageIndex,
  indexFromManifest,
  MANIFEST_LIMIT,
  type NamedImage,
  type NamedIndex,
  OCI_LAYOUT_BYTES,
  type SelectOptions,
  selectImage,
} from '../image/index.js';
import {
  digestAlgorithm,
  digestHex,
  MediaType,
  type ImageIndex as OciImageIndex,
  parseDigest,
} from '../oci/index.js';
import { openVerifiedEntry, readSmallEntry } from './entries.js';
import { ArchiveError } from './errors.js';
import { indexTar, type TarEntry } from './tar-index.js';
import { type TarFile, type TarOptions, tarStream, writeTarFile } from './write-tar.js';

/** What to write: one image, one image with names, or several. */
export type ArchiveInput = Image | NamedImage | readonly NamedImage[];

export function entriesOf(input: ArchiveInput): readonly NamedImage[] {
  if (Array.isArray(input)) return input as readonly NamedImage[];
  if ('image' in (input as NamedImage)) return [input as NamedImage];
  return [{ image: input as Image }];
}

/** What an oci-archive holds: what a docker-archive can, or multi-platform images (indexes). */
export type OciArchiveInput = ArchiveInput | NamedIndex | readonly (NamedImage | NamedIndex)[];

function ociEntriesOf(input: OciArchiveInput): readonly (NamedImage | NamedIndex)[] {
  if (Array.isArray(input)) return input as readonly (NamedImage | NamedIndex)[];
  if ('index' in (input as NamedIndex)) return [input as NamedIndex];
  return entriesOf(input as ArchiveInput);
}

/** The tar entries of the layout for `input`, in write order (reads manifests, not layers). */
export async function ociArchiveFiles(
  input: OciArchiveInput,
): Promise<{ index: OciImageIndex; files: TarFile[] }> {
  const entries = ociEntriesOf(input);
  const { index, bytes } = await buildIndex(entries);
  const blobs = await blobsOf(entries.map((e) => ('index' in e ? e.index : e.image)));
  const algorithms = [...new Set(blobs.map((b) => digestAlgorithm(b.descriptor.digest)))].sort();
  const files: TarFile[] = [
    { name: 'oci-layout', bytes: OCI_LAYOUT_BYTES },
    { name: 'index.json', bytes },
    { name: 'blobs', type: 'directory' },
    ...algorithms.map((a): TarFile => ({ name: `blobs/${a}`, type: 'directory' })),
    ...blobs.map(
      (blob): TarFile => ({
        name: `blobs/${digestAlgorithm(blob.descriptor.digest)}/${digestHex(blob.descriptor.digest)}`,
        size: blob.descriptor.size,
        open: () => blob.open(),
        expected: { digest: blob.descriptor.digest, what: blob.what },
      }),
    ),
  ];
  return { index, files };
}

export interface ArchiveResult {
  readonly file: string;
  /** The archive's length in bytes. */
  readonly size: number;
}

/** Writes `input` as an oci-archive at `file` (streaming, temp file + rename). Names as in layout/. */
export async function writeOciArchive(
  file: string,
  input: OciArchiveInput,
  options: TarOptions = {},
): Promise<ArchiveResult & { index: OciImageIndex }> {
  const { index, files } = await ociArchiveFiles(input);
  const { size } = await writeTarFile(file, files, options);
  return { file, size, index };
}

/** The oci-archive of `input` as a stream (for `dest=-`). */
export async function ociArchiveStream(input: OciArchiveInput, options: TarOptions = {}) {
  return tarStream((await ociArchiveFiles(input)).files, options);
}

function missing(file: string, name: string): ArchiveError {
  return new ArchiveError('ARCHIVE_MISSING_ENTRY', `${file} has no ${name}`, {
    hint: 'the archive is incomplete or is not an oci-archive (docker save output is a docker-archive)',
  });
}

/** The layout inside the oci-archive at `file`, as an index (entries are read in place, not extracted). */
export async function openOciArchive(file: string): Promise<ImageIndex> {
  const entries = await indexTar(file);
  const entry = (name: string): TarEntry => {
    const found = entries.get(name);
    if (!found) throw missing(file, name);
    return found;
  };
  const read = (name: string, limit: number) => readSmallEntry(file, entry(name), limit);
  let layout: { imageLayoutVersion?: string };
  try {
    layout = JSON.parse((await read('oci-layout', 64 * 1024)).toString('utf8')) as typeof layout;
  } catch (cause) {
    if (cause instanceof ArchiveError) throw cause;
    throw new ArchiveError('ARCHIVE_INVALID_MANIFEST', `${file}: oci-layout is not JSON`, { cause });
  }
  if (layout.imageLayoutVersion !== '1.0.0') {
    throw new ArchiveError(
      'ARCHIVE_INVALID_MANIFEST',
      `${file} has image layout version ${JSON.stringify(layout.imageLayoutVersion)}`,
      {
        hint: 'wharf reads image layout version 1.0.0',
      },
    );
  }
  return indexFromManifest({
    rawManifest: new Uint8Array(await read('index.json', MANIFEST_LIMIT)),
    mediaType: MediaType.ociIndex,
    blob: async (descriptor) => {
      const digest = parseDigest(descriptor.digest);
      return openVerifiedEntry(file, entry(`blobs/${digestAlgorithm(digest)}/${digestHex(digest)}`), {
        digest,
        size: descriptor.size,
        what: `${descriptor.mediaType} ${digest} in ${file}`,
      });
    },
  });
}

/** One image from the oci-archive at `file` (by ref name, digest or platform; see `selectImage`). */
export async function readOciArchive(
  file: string,
  options: Omit<SelectOptions, 'source'> = {},
): Promise<Image> {
  return selectImage(await openOciArchive(file), { ...options, source: file });
}
