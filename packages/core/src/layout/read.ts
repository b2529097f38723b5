/**
 * The source side: an OCI image layout directory as an {@link ImageIndex} (its `index.json`), and one
 * image picked out of it by name, digest or platform.
 */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import {
  type Image,
  type ImageIndex,
  indexFromManifest,
  type SelectOptions,
  selectImage,
} from '../image/index.js';
import { type Descriptor, digestAlgorithm, digestHex, MediaType, parseDigest } from '../oci/index.js';
import { LayoutError } from './errors.js';

/** `<dir>/blobs/<algorithm>/<hex>` (the digest is validated first, so no path tricks). */
export function blobPath(dir: string, digest: string): string {
  const valid = parseDigest(digest);
  return join(dir, 'blobs', digestAlgorithm(valid), digestHex(valid));
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

/** Opens a layout blob; `LAYOUT_BLOB_MISSING` when it is not there. */
export async function openBlob(dir: string, descriptor: Descriptor): Promise<Readable> {
  const path = blobPath(dir, descriptor.digest);
  try {
    await stat(path);
  } catch (error) {
    if (!isNotFound(error)) throw error;
    throw new LayoutError(
      'LAYOUT_BLOB_MISSING',
      `${descriptor.mediaType} ${descriptor.digest} is missing from ${dir}`,
      {
        hint: 'the layout is incomplete (a partial copy, or a platform that was not exported); write it again',
        cause: error,
      },
    );
  }
  return createReadStream(path);
}

/** Reads `<dir>/oci-layout` and `<dir>/index.json`; the index lists what the layout holds. */
export async function openLayout(dir: string): Promise<ImageIndex> {
  let header: string;
  try {
    header = await readFile(join(dir, 'oci-layout'), 'utf8');
  } catch (error) {
    throw new LayoutError('LAYOUT_NOT_A_LAYOUT', `${dir} is not an OCI image layout (no oci-layout file)`, {
      hint: 'point at a directory written by wharf, skopeo (oci:DIR) or BuildKit (type=oci,tar=false)',
      cause: error,
    });
  }
  let version: unknown;
  try {
    version = (JSON.parse(header) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
  } catch (cause) {
    throw new LayoutError('LAYOUT_NOT_A_LAYOUT', `${dir}/oci-layout is not JSON`, { cause });
  }
  if (version !== '1.0.0') {
    throw new LayoutError(
      'LAYOUT_UNSUPPORTED_VERSION',
      `${dir} has image layout version ${JSON.stringify(version)}`,
      {
        hint: 'wharf reads image layout version 1.0.0',
      },
    );
  }
  let raw: Buffer;
  try {
    raw = await readFile(join(dir, 'index.json'));
  } catch (cause) {
    throw new LayoutError('LAYOUT_NOT_A_LAYOUT', `${dir} has no index.json`, {
      hint: 'the layout is incomplete; write it again',
      cause,
    });
  }
  return indexFromManifest({
    rawManifest: new Uint8Array(raw),
    mediaType: MediaType.ociIndex,
    blob: (descriptor) => openBlob(dir, descriptor),
  });
}

export type ReadLayoutOptions = Omit<SelectOptions, 'source'>;

/**
 * One image from the layout at `dir`: by `ref` (a ref-name annotation such as `latest`, or an image
 * name such as `hello`), by `digest`, or the only one; an index entry is resolved by `platform`.
 */
export async function readLayout(dir: string, options: ReadLayoutOptions = {}): Promise<Image> {
  return selectImage(await openLayout(dir), { ...options, source: dir });
}
