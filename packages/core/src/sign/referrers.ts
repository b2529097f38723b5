/**
 * OCI 1.1 referrers: an artifact (an SBOM, a provenance statement, a signature bundle) pushed as an image
 * manifest whose `subject` is the image, found again through the referrers API, or — on registries
 * without it, such as Debian's docker-registry 2.8 — through the referrers tag schema: the tag
 * `<alg>-<hex>` of the subject's digest points at an OCI index of its referrers, updated read-modify-write
 * (distribution-spec v1.1, "Pushing Manifests with Subject" / "Referrers Tag Schema").
 */
import type { Readable } from 'node:stream';
import { WharfError } from '../errors.js';
import { readAll } from '../image/index.js';
import {
  type Descriptor,
  type Digest,
  descriptorOf,
  digestAlgorithm,
  digestHex,
  encodeDocument,
  MediaType,
  parseDigest,
} from '../oci/index.js';
import { RegistryError, type RemoteRepository } from '../registry/index.js';

const REFERRERS_LIMIT = 4 * 1024 * 1024;
/** The empty JSON config an artifact without a config points at (image-spec "Guidance for an Empty Descriptor"). */
const EMPTY_CONFIG = new Uint8Array([0x7b, 0x7d]);

/** One file of an artifact: its media type and bytes. */
export interface ArtifactBlob {
  readonly mediaType: string;
  readonly bytes: Uint8Array;
  /** Layer annotations, e.g. `org.opencontainers.image.title` (cosign names bundles `sha256-<hex>.sigstore.json`). */
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface Artifact {
  readonly artifactType: string;
  readonly blobs: readonly ArtifactBlob[];
  readonly annotations?: Readonly<Record<string, string>>;
}

/** The tag that holds `digest`'s referrers index where the API is missing: `sha256-<hex>`. */
export function referrersTag(digest: Digest): string {
  return `${digestAlgorithm(digest)}-${digestHex(digest)}`;
}

/** The artifact manifest for `artifact` about `subject`, and its descriptor (for the referrers index). */
export function artifactManifest(subject: Descriptor, artifact: Artifact) {
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    artifactType: artifact.artifactType,
    config: descriptorOf(MediaType.ociEmpty, EMPTY_CONFIG),
    layers: artifact.blobs.map((blob) => ({
      ...descriptorOf(blob.mediaType, blob.bytes),
      ...(blob.annotations ? { annotations: { ...blob.annotations } } : {}),
    })),
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    ...(artifact.annotations ? { annotations: { ...artifact.annotations } } : {}),
  };
  return encodeDocument(MediaType.ociManifest, manifest, {
    artifactType: artifact.artifactType,
    ...(artifact.annotations ? { annotations: artifact.annotations } : {}),
  });
}

async function pushBlob(repository: RemoteRepository, bytes: Uint8Array): Promise<void> {
  const { digest } = descriptorOf('application/octet-stream', bytes);
  if ((await repository.checkExistingBlob(digest)) !== undefined) return;
  const upload = await repository.initiateUpload();
  if (upload.mounted) return;
  await repository.commitBlob(upload.location, digest, bytes);
}

/** GET the referrers API: the index, or `undefined` when the registry has no such API (404). */
async function referrersApi(
  repository: RemoteRepository,
  subject: Digest,
): Promise<Descriptor[] | undefined> {
  const context = {
    registry: repository.client.registry,
    repository: repository.name,
    operation: 'list referrers',
  };
  const what = `referrers of ${subject} in ${repository.client.registry}/${repository.name}`;
  const response = await repository.client.send(
    {
      method: 'GET',
      url: `/v2/${repository.name}/referrers/${parseDigest(subject)}`,
      headers: { accept: MediaType.ociIndex },
      scopes: repository.scopes,
      buffer: { limit: REFERRERS_LIMIT, what },
    },
    context,
  );
  const type = response.headers['content-type'];
  const contentType = Array.isArray(type) ? type[0] : type;
  if (response.status !== 200 || !contentType?.startsWith(MediaType.ociIndex)) {
    await response.body.dump();
    return undefined;
  }
  return manifestsOf(await response.body.bytes(REFERRERS_LIMIT, what), what);
}

/** The descriptors of a referrers index, each checked (digest, size) before use: the registry is untrusted. */
function manifestsOf(bytes: Uint8Array, what: string): Descriptor[] {
  let doc: { manifests?: unknown };
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as typeof doc;
  } catch (cause) {
    throw new WharfError('SIGN_BAD_REFERRERS', `${what} is not JSON`, {
      cause,
      hint: 'the registry returned a damaged referrers index',
    });
  }
  if (!Array.isArray(doc.manifests)) return [];
  return doc.manifests.map((entry: unknown) => {
    const d = entry as Partial<Descriptor>;
    if (typeof d?.mediaType !== 'string' || !Number.isSafeInteger(d.size) || (d.size as number) < 0) {
      throw new WharfError('SIGN_BAD_REFERRERS', `${what} lists a malformed descriptor`, {
        hint: 'the referrers index was altered; remove the tag and push the artifacts again',
      });
    }
    return { ...d, digest: parseDigest(d.digest, what) } as Descriptor;
  });
}

/** The referrers tag's index, or undefined when the tag does not exist. */
async function tagIndex(repository: RemoteRepository, subject: Digest): Promise<Descriptor[] | undefined> {
  try {
    const fetched = await repository.fetchManifest(referrersTag(subject));
    return manifestsOf(fetched.bytes, `referrers tag ${referrersTag(subject)}`);
  } catch (error) {
    if (error instanceof RegistryError && error.code === 'REGISTRY_NOT_FOUND') return undefined;
    throw error;
  }
}

/**
 * Pushes `artifact` (its blobs, then its manifest by digest) as a referrer of `subject`, and adds it to
 * the referrers tag when the registry has no referrers API. Returns the artifact manifest's descriptor.
 */
export async function attachArtifact(
  repository: RemoteRepository,
  subject: Descriptor,
  artifact: Artifact,
): Promise<Descriptor> {
  const [descriptor] = await attachArtifacts(repository, subject, [artifact]);
  return descriptor as Descriptor;
}

/** An artifact manifest ready to store: its bytes, its descriptor (for a referrers index) and its files. */
export interface ArtifactManifest {
  readonly bytes: Uint8Array;
  readonly descriptor: Descriptor;
  /** The config and layer blobs it points at. */
  readonly blobs: readonly Uint8Array[];
}

/**
 * The artifact manifests of `artifacts` about `subject`, with the blobs each needs (the empty config too).
 *
 * @example
 * const [manifest] = artifactManifests(subject, [sbomArtifact]); // manifest.descriptor.artifactType === 'application/spdx+json'
 */
export function artifactManifests(subject: Descriptor, artifacts: readonly Artifact[]): ArtifactManifest[] {
  return artifacts.map((artifact) => ({
    ...artifactManifest(subject, artifact),
    blobs: [EMPTY_CONFIG, ...artifact.blobs.map((b) => b.bytes)],
  }));
}

/**
 * {@link attachArtifact} for several artifacts of one subject: blobs and manifests are pushed
 * concurrently, the referrers API is asked once, and the fallback tag is read and written once.
 *
 * @example
 * const [sbomRef, provenanceRef] = await attachArtifacts(repository, subject, [sbomArtifact, provenanceArtifact]);
 */
export async function attachArtifacts(
  repository: RemoteRepository,
  subject: Descriptor,
  artifacts: readonly Artifact[],
): Promise<Descriptor[]> {
  return attachManifests(repository, subject, artifactManifests(subject, artifacts));
}

/**
 * Pushes artifact manifests made before (their bytes unchanged: e.g. read from a layout) as referrers
 * of `subject`, with the referrers tag when the registry has no referrers API.
 */
export async function attachManifests(
  repository: RemoteRepository,
  subject: Descriptor,
  manifests: readonly ArtifactManifest[],
): Promise<Descriptor[]> {
  await pushArtifactBlobs(repository, manifests);
  return pushArtifactManifests(repository, subject, manifests);
}

/**
 * The files of artifact manifests (each once, concurrently). They need no subject in the registry, so a
 * build uploads them while the image itself is still being pushed.
 *
 * @example
 * const manifests = artifactManifests(subject, [sbomArtifact]);
 * await pushArtifactBlobs(repository, manifests); // while the image pushes
 * await pushArtifactManifests(repository, subject, manifests); // after it
 */
export async function pushArtifactBlobs(
  repository: RemoteRepository,
  manifests: readonly ArtifactManifest[],
): Promise<void> {
  const blobs = new Map<Digest, Uint8Array>();
  for (const manifest of manifests) {
    for (const bytes of manifest.blobs)
      blobs.set(descriptorOf('application/octet-stream', bytes).digest, bytes);
  }
  await Promise.all([...blobs.values()].map((bytes) => pushBlob(repository, bytes)));
}

/**
 * The artifact manifests themselves (their files pushed before: {@link pushArtifactBlobs}), then the
 * referrers tag unless the registry said it processed the subject: distribution-spec v1.1 has a
 * registry with the referrers API answer such a PUT with `OCI-Subject`, and a client that gets none
 * keeps the tag, so no extra request asks whether the API exists.
 *
 * @example
 * const [sbomRef] = await pushArtifactManifests(repository, subject, artifactManifests(subject, [sbomArtifact]));
 */
export async function pushArtifactManifests(
  repository: RemoteRepository,
  subject: Descriptor,
  manifests: readonly ArtifactManifest[],
): Promise<Descriptor[]> {
  const processed = await Promise.all(
    manifests.map(async ({ bytes, descriptor }) => {
      const put = await repository.commitManifestHeaders(descriptor.digest, bytes, MediaType.ociManifest);
      return put.ociSubject === subject.digest;
    }),
  );
  const descriptors = manifests.map((m) => m.descriptor);
  if (processed.every(Boolean)) return descriptors; // none, or the registry indexes them itself
  // read-modify-write of the fallback index; a racing writer can drop an entry, as the spec accepts
  const existing = (await tagIndex(repository, subject.digest)) ?? [];
  const listed = new Set(existing.map((d) => d.digest));
  const added = descriptors.filter((d) => !listed.has(d.digest) && listed.add(d.digest));
  if (added.length === 0) return descriptors;
  const index = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [...existing, ...added] };
  const encoded = encodeDocument(MediaType.ociIndex, index);
  await repository.commitManifest(referrersTag(subject.digest), encoded.bytes, MediaType.ociIndex);
  return descriptors;
}

/** The referrers of `subject` (API first, then the tag), optionally only those of `artifactType`. */
export async function listReferrers(
  repository: RemoteRepository,
  subject: Digest,
  artifactType?: string,
): Promise<Descriptor[]> {
  const all = (await referrersApi(repository, subject)) ?? (await tagIndex(repository, subject)) ?? [];
  return artifactType === undefined ? all : all.filter((d) => d.artifactType === artifactType);
}

/** Artifact files read back are bounded (SBOMs of large images are a few MiB). */
const ARTIFACT_BLOB_LIMIT = 64 * 1024 * 1024;

/** The files of the artifact manifest `descriptor` points at, each verified against its digest. */
export async function fetchArtifact(
  repository: RemoteRepository,
  descriptor: Descriptor,
): Promise<ArtifactBlob[]> {
  const fetched = await repository.fetchManifest(descriptor.digest);
  return artifactFiles(fetched.bytes, (layer) => repository.fetchBlob(layer));
}

/**
 * The files an artifact manifest (`manifest`, its bytes) lists, read through `open` from any medium,
 * each bounded and verified against its digest.
 */
export async function artifactFiles(
  manifest: Uint8Array,
  open: (layer: Descriptor) => Promise<Readable>,
): Promise<ArtifactBlob[]> {
  let layers: Descriptor[] | undefined;
  try {
    ({ layers } = JSON.parse(Buffer.from(manifest).toString('utf8')) as { layers?: Descriptor[] });
  } catch (cause) {
    throw new WharfError('SIGN_BAD_REFERRERS', 'an artifact manifest is not JSON', {
      cause,
      hint: 'the referrer was altered; attach the artifacts again',
    });
  }
  const blobs: ArtifactBlob[] = [];
  for (const layer of Array.isArray(layers) ? layers : []) {
    const what = `artifact blob ${layer.digest}`;
    if (!(layer.size <= ARTIFACT_BLOB_LIMIT)) {
      throw new WharfError(
        'SIGN_ARTIFACT_TOO_LARGE',
        `${what} is ${layer.size} bytes; the limit is ${ARTIFACT_BLOB_LIMIT}`,
        {
          hint: 'the referrer is not an SBOM or attestation wharf made',
        },
      );
    }
    const bytes = await readAll(await open(layer), ARTIFACT_BLOB_LIMIT, what);
    if (descriptorOf(layer.mediaType, bytes).digest !== layer.digest) {
      throw new WharfError('SIGN_DIGEST_MISMATCH', `${what} does not hash to its digest`, {
        hint: 'the registry returned altered content; push the artifact again',
      });
    }
    blobs.push({ mediaType: layer.mediaType, bytes });
  }
  return blobs;
}
