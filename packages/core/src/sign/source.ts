/**
 * Where an image and its referrers are read from: a registry (`registry.example.com/app:1.0`) or an
 * OCI image layout (`oci:DIR` or `oci:DIR:NAME`, skopeo's transport syntax). `wharf verify`,
 * `wharf attestations` and `wharf sbom` read through it and never know the medium.
 */
import { stat } from 'node:fs/promises';
import type { Descriptor } from '../oci/index.js';
import { parseReference } from '../oci/index.js';
import { RegistryClient, type RegistryOptions } from '../registry/index.js';
import { layoutArtifact, layoutReferrers, layoutSubject } from './layout.js';
import { type ArtifactBlob, fetchArtifact, listReferrers } from './referrers.js';

/** An image and its referrers, read from one medium. */
export interface ReferrerSource {
  /** The image (or index) the reference names: a tag resolved to its digest. */
  readonly subject: Descriptor;
  /** Its referrers, oldest first, optionally only those of `artifactType`. */
  referrers(artifactType?: string): Promise<Descriptor[]>;
  /** The files of one referrer, verified against their digests. */
  files(descriptor: Descriptor): Promise<ArtifactBlob[]>;
  close(): Promise<void>;
}

/**
 * `oci:DIR[:NAME]` split into the layout directory and the name; undefined for a registry reference.
 * A DIR that holds a colon is found by trying the whole text as a directory first.
 */
export async function layoutReference(
  reference: string,
): Promise<{ readonly dir: string; readonly ref?: string } | undefined> {
  if (!reference.startsWith('oci:')) return undefined;
  const rest = reference.slice(4);
  const isDir = (path: string) =>
    stat(path).then(
      (s) => s.isDirectory(),
      () => false,
    );
  if (await isDir(rest)) return { dir: rest };
  const colon = rest.lastIndexOf(':');
  if (colon > 0 && (await isDir(rest.slice(0, colon)))) {
    return { dir: rest.slice(0, colon), ref: rest.slice(colon + 1) };
  }
  return { dir: rest };
}

/**
 * Opens the image `reference` names with its referrers: a registry reference, or `oci:DIR[:NAME]`.
 *
 * @example
 * const source = await openReferrerSource('oci:out/app:latest');
 * try { console.log(source.subject.digest, await source.referrers()); } finally { await source.close(); }
 */
export async function openReferrerSource(
  reference: string,
  registry: RegistryOptions = {},
): Promise<ReferrerSource> {
  const layout = await layoutReference(reference);
  if (layout) {
    const subject = await layoutSubject(layout.dir, layout.ref);
    return {
      subject,
      referrers: (artifactType) => layoutReferrers(layout.dir, subject.digest, artifactType),
      files: (descriptor) => layoutArtifact(layout.dir, descriptor),
      close: async () => {},
    };
  }
  const ref = parseReference(reference);
  const client = new RegistryClient(ref.registry, registry);
  try {
    const repository = client.repository(ref.repository, 'pull');
    const fetched = await repository.fetchManifest(ref.digest ?? ref.tag ?? 'latest');
    const subject = { mediaType: fetched.mediaType, digest: fetched.digest, size: fetched.bytes.byteLength };
    return {
      subject,
      referrers: (artifactType) => listReferrers(repository, subject.digest, artifactType),
      files: (descriptor) => fetchArtifact(repository, descriptor),
      close: () => client.close(),
    };
  } catch (error) {
    await client.close();
    throw error;
  }
}
