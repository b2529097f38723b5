/**
 * After a push: the SBOM and the provenance of the pushed image, each attached as an OCI 1.1 referrer in
 * every repository it was pushed to. Made once, pushed per repository.
 */
import { randomUUID } from 'node:crypto';
import type { Image } from '../image/types.js';
import { type Descriptor, type Digest, parseReference } from '../oci/index.js';
import { RegistryClient, type RegistryOptions } from '../registry/index.js';
import { type BaseImage, generateSbom, SBOM_MEDIA_TYPES, type SbomFormat } from '../sbom/index.js';
import { gitSource } from './git.js';
import { type ProvenanceMode, provenanceStatement } from './provenance.js';
import { type Artifact, attachArtifact, fetchArtifact, listReferrers } from './referrers.js';

/** in-toto statements, as BuildKit and cosign store them. */
export const IN_TOTO_MEDIA_TYPE = 'application/vnd.in-toto+json';

export interface AttestOptions {
  readonly sbom?: SbomFormat | undefined;
  readonly provenance?:
    | {
        readonly mode: ProvenanceMode;
        readonly definition: { readonly path: string; readonly digest: Digest };
        readonly target?: string | undefined;
        readonly buildArgs?: Readonly<Record<string, string>>;
        readonly platforms: readonly string[];
        readonly contextDir?: string | undefined;
        readonly builder: { readonly id: string; readonly version: string };
        readonly startedOn: Date;
        readonly buildGraph?: unknown;
      }
    | undefined;
  readonly bases?: readonly BaseImage[];
  readonly registry?: RegistryOptions;
}

/** The artifacts to attach to `image` (pushed as `names`): at most an SBOM and a provenance statement. */
async function artifactsFor(image: Image, names: readonly string[], digest: Digest, options: AttestOptions) {
  const artifacts: Artifact[] = [];
  const subjectName = parseReference(names[0] as string).name;
  if (options.sbom) {
    const text = await generateSbom(image, {
      subject: { name: subjectName, digest },
      bases: options.bases ?? [],
      format: options.sbom,
    });
    const mediaType = SBOM_MEDIA_TYPES[options.sbom];
    artifacts.push({ artifactType: mediaType, blobs: [{ mediaType, bytes: Buffer.from(text) }] });
  }
  const provenance = options.provenance;
  if (provenance) {
    const git = provenance.contextDir ? await gitSource(provenance.contextDir) : undefined;
    const statement = provenanceStatement({
      subjects: [...new Set(names.map((n) => parseReference(n).name))].map((name) => ({ name, digest })),
      definition: provenance.definition,
      target: provenance.target,
      buildArgs: provenance.buildArgs ?? {},
      platforms: provenance.platforms,
      bases: options.bases ?? [],
      git,
      builder: provenance.builder,
      invocationId: randomUUID(),
      startedOn: provenance.startedOn,
      finishedOn: new Date(),
      mode: provenance.mode,
      buildGraph: provenance.buildGraph,
    });
    const bytes = Buffer.from(JSON.stringify(statement));
    artifacts.push({
      artifactType: IN_TOTO_MEDIA_TYPE,
      blobs: [{ mediaType: IN_TOTO_MEDIA_TYPE, bytes }],
      annotations: { 'in-toto.io/predicate-type': 'https://slsa.dev/provenance/v1' },
    });
  }
  return artifacts;
}

/** Attaches the SBOM and provenance `options` asks for to `image`, already pushed as `names`. */
export async function attestPushed(
  image: Image,
  names: readonly string[],
  options: AttestOptions,
): Promise<Descriptor[]> {
  if ((!options.sbom && !options.provenance) || names.length === 0) return [];
  const digest = await image.digest();
  const subject: Descriptor = {
    mediaType: await image.mediaType(),
    digest,
    size: (await image.rawManifest()).byteLength,
  };
  const artifacts = await artifactsFor(image, names, digest, options);
  const repositories = new Map(names.map((n) => parseReference(n)).map((r) => [r.name, r]));
  const attached: Descriptor[] = [];
  for (const reference of repositories.values()) {
    const client = new RegistryClient(reference.registry, options.registry ?? {});
    try {
      const repository = client.repository(reference.repository, 'pull,push');
      for (const artifact of artifacts) attached.push(await attachArtifact(repository, subject, artifact));
    } finally {
      await client.close();
    }
  }
  return attached;
}

/**
 * The newest artifact of `artifactType` attached to the image `reference` names (a tag is resolved to its
 * manifest digest first), as bytes; `undefined` when none is attached.
 */
export async function readAttached(
  reference: string,
  artifactType: string,
  registry: RegistryOptions = {},
): Promise<{ readonly digest: Digest; readonly bytes: Uint8Array } | undefined> {
  const ref = parseReference(reference);
  const client = new RegistryClient(ref.registry, registry);
  try {
    const repository = client.repository(ref.repository, 'pull');
    const digest = ref.digest ?? (await repository.fetchManifest(ref.tag ?? 'latest')).digest;
    const found = await listReferrers(repository, digest, artifactType);
    const newest = found.at(-1);
    if (!newest) return undefined;
    const [blob] = await fetchArtifact(repository, newest);
    return blob ? { digest, bytes: blob.bytes } : undefined;
  } finally {
    await client.close();
  }
}
