/** What an SBOM describes: the built image, and the bases it was built from. */
import type { Digest } from '../oci/index.js';

export interface SbomSubject {
  /** The image's repository name (`registry/repo`), or a local name for an unpushed image. */
  readonly name: string;
  /** The image manifest's digest. */
  readonly digest: Digest;
}

/** A `FROM` image as the build resolved it. */
export interface BaseImage {
  /** The reference as written (`node:20-alpine`). */
  readonly reference: string;
  /** The digest it resolved to (the index's, when it was an index). */
  readonly digest: Digest;
}

export interface SbomOptions {
  readonly subject: SbomSubject;
  readonly bases?: readonly BaseImage[];
  /** Creation time; default now (pass SOURCE_DATE_EPOCH's time for reproducible documents). */
  readonly created?: Date;
  /** `wharf-<version>`, the creating tool. */
  readonly tool?: string;
}

/** `pkg:oci/<last name segment>@<digest>?repository_url=<repository>`: the purl type of OCI artifacts (tag dropped). */
export function ociPurl(name: string, digest: Digest): string {
  let repository = name.split('@')[0] ?? name;
  const colon = repository.lastIndexOf(':');
  if (colon > repository.lastIndexOf('/')) repository = repository.slice(0, colon);
  const last = repository.slice(repository.lastIndexOf('/') + 1);
  return `pkg:oci/${encodeURIComponent(last)}@${encodeURIComponent(digest)}?repository_url=${encodeURIComponent(repository)}`;
}
