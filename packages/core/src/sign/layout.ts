/**
 * Referrers inside an OCI image layout, stored the way `oras attach --oci-layout` stores them: each
 * artifact manifest (with `subject` = the image) is a blob, listed in `index.json` without a ref name
 * and with its `artifactType`, so the layout's readers skip it as an image and referrer readers find it
 * by scanning `index.json` for manifests whose `subject` is the image. `wharf push DIR REF` carries
 * them to the registry (unchanged bytes: the signatures stay valid).
 */
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { WharfError } from '../errors.js';
import { writeFileAtomic } from '../fsutil/files.js';
import { ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME, readAll } from '../image/index.js';
import { blobPath, openBlob, openLayout } from '../layout/index.js';
import {
  type Descriptor,
  type Digest,
  descriptorOf,
  encodeDocument,
  MediaType,
  parseReference,
} from '../oci/index.js';
import {
  type Artifact,
  type ArtifactBlob,
  type ArtifactManifest,
  artifactFiles,
  artifactManifests,
} from './referrers.js';

/** What a layout artifact manifest may weigh (wharf's are under 2 KiB). */
const MANIFEST_LIMIT = 4 * 1024 * 1024;
/** At most this many index.json entries are opened looking for referrers: a layout is someone else's. */
const ENTRY_LIMIT = 10_000;

async function exists(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * Stores `artifacts` about `subject` (already in the layout at `dir`) as referrers in the layout.
 *
 * @example
 * await attachToLayout('out/app', await prepareAttestations(image, [], { sbom: 'spdx-json' }));
 */
export async function attachToLayout(
  dir: string,
  prepared: { readonly subject: Descriptor; readonly artifacts: readonly Artifact[] },
): Promise<Descriptor[]> {
  return storeInLayout(dir, artifactManifests(prepared.subject, prepared.artifacts));
}

/**
 * Stores artifact manifests in the layout at `dir` (blobs first, each written atomically) and lists
 * them in its `index.json` (rewritten atomically last). Entries already listed stay listed once.
 */
export async function storeInLayout(
  dir: string,
  manifests: readonly ArtifactManifest[],
): Promise<Descriptor[]> {
  if (manifests.length === 0) return [];
  for (const manifest of manifests) {
    for (const bytes of [...manifest.blobs, manifest.bytes]) {
      const path = blobPath(dir, descriptorOf('application/octet-stream', bytes).digest);
      if (!(await exists(path))) await writeFileAtomic(path, bytes, { mode: 0o444 });
    }
  }
  const index = await (await openLayout(dir)).manifest();
  const listed = new Set(index.manifests.map((d) => d.digest));
  const added = manifests.map((m) => m.descriptor).filter((d) => !listed.has(d.digest));
  if (added.length > 0) {
    const updated = { ...index, manifests: [...index.manifests, ...added] };
    await writeFileAtomic(join(dir, 'index.json'), encodeDocument(MediaType.ociIndex, updated).bytes);
  }
  return manifests.map((m) => m.descriptor);
}

/** The artifact manifest of a layout entry, bounded; undefined for entries that are not one. */
async function readManifest(dir: string, descriptor: Descriptor): Promise<Uint8Array | undefined> {
  if (descriptor.mediaType !== MediaType.ociManifest || descriptor.size > MANIFEST_LIMIT) return undefined;
  return readAll(await openBlob(dir, descriptor), MANIFEST_LIMIT, `manifest ${descriptor.digest}`);
}

/**
 * The referrers of `subject` in the layout at `dir`: the `index.json` entries whose manifest names it
 * as `subject` (optionally only those of `artifactType`), in index order (oldest first).
 */
export async function layoutReferrers(
  dir: string,
  subject: Digest,
  artifactType?: string,
): Promise<Descriptor[]> {
  const index = await (await openLayout(dir)).manifest();
  const found: Descriptor[] = [];
  for (const descriptor of index.manifests.slice(0, ENTRY_LIMIT)) {
    if (descriptor.digest === subject) continue;
    if (artifactType !== undefined && descriptor.artifactType !== artifactType) continue;
    const bytes = await readManifest(dir, descriptor);
    if (!bytes) continue;
    let manifest: { subject?: { digest?: unknown }; artifactType?: unknown; annotations?: unknown };
    try {
      manifest = JSON.parse(Buffer.from(bytes).toString('utf8')) as typeof manifest;
    } catch {
      continue; // not a JSON manifest: not a referrer
    }
    if (manifest.subject?.digest !== subject) continue;
    const type = typeof manifest.artifactType === 'string' ? manifest.artifactType : descriptor.artifactType;
    if (artifactType !== undefined && type !== artifactType) continue;
    found.push({
      ...descriptor,
      ...(type ? { artifactType: type } : {}),
      ...(manifest.annotations && typeof manifest.annotations === 'object'
        ? { annotations: manifest.annotations as Record<string, string> }
        : {}),
    });
  }
  return found;
}

/** The files of a layout artifact, each verified against its digest. */
export async function layoutArtifact(dir: string, descriptor: Descriptor): Promise<ArtifactBlob[]> {
  const bytes = await readManifest(dir, descriptor);
  if (!bytes) {
    throw new WharfError('SIGN_BAD_REFERRERS', `${descriptor.digest} in ${dir} is not an artifact manifest`, {
      hint: 'the layout was altered; write it again',
    });
  }
  return artifactFiles(bytes, (layer) => openBlob(dir, layer));
}

/** The artifact manifests about `subject` in a layout, read whole, to push elsewhere unchanged. */
export async function layoutArtifactManifests(dir: string, subject: Digest): Promise<ArtifactManifest[]> {
  const manifests: ArtifactManifest[] = [];
  for (const descriptor of await layoutReferrers(dir, subject)) {
    const bytes = (await readManifest(dir, descriptor)) as Uint8Array;
    const { config } = JSON.parse(Buffer.from(bytes).toString('utf8')) as { config?: Descriptor };
    const files = await layoutArtifact(dir, descriptor);
    const configBytes = config
      ? await readAll(await openBlob(dir, config), MANIFEST_LIMIT, `config ${config.digest}`)
      : undefined;
    manifests.push({
      bytes,
      descriptor: {
        mediaType: descriptor.mediaType,
        digest: descriptor.digest,
        size: descriptor.size,
        ...(descriptor.artifactType ? { artifactType: descriptor.artifactType } : {}),
        ...(descriptor.annotations ? { annotations: descriptor.annotations } : {}),
      },
      blobs: [...(configBytes ? [configBytes] : []), ...files.map((f) => f.bytes)],
    });
  }
  return manifests;
}

/**
 * The image (or multi-platform index) a layout names: the entry with ref name or image name `ref`, or
 * the only entry that is not an artifact.
 */
export async function layoutSubject(dir: string, ref?: string): Promise<Descriptor> {
  const index = await (await openLayout(dir)).manifest();
  const images = index.manifests.filter((d) => d.artifactType === undefined);
  let full: string | undefined;
  try {
    full = ref === undefined ? undefined : parseReference(ref).toString();
  } catch {
    full = undefined;
  }
  const named =
    ref === undefined
      ? images
      : images.filter((d) => {
          const a = d.annotations ?? {};
          return a[ANNOTATION_REF_NAME] === ref || (full !== undefined && a[ANNOTATION_IMAGE_NAME] === full);
        });
  const unique = [...new Map(named.map((d) => [d.digest, d])).values()];
  if (unique.length !== 1) {
    throw new WharfError(
      'SIGN_NO_SUBJECT',
      unique.length === 0
        ? `no image${ref === undefined ? '' : ` named ${ref}`} in the layout ${dir}`
        : `the layout ${dir} holds ${unique.length} images; which one?`,
      { hint: 'name one: oci:DIR:NAME (its org.opencontainers.image.ref.name, e.g. latest)' },
    );
  }
  return unique[0] as Descriptor;
}
