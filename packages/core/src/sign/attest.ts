/**
 * After a push: the SBOM and the provenance of the pushed image, and with signing its signature and the
 * signed attestations (Sigstore bundles), each attached as an OCI 1.1 referrer in every repository it was
 * pushed to. Made (and signed) once, pushed per repository.
 */
import { createHash, randomUUID } from 'node:crypto';
import { isImageIndex } from '../image/index.js';
import type { Image, ImageIndex } from '../image/types.js';
import { type Descriptor, type Digest, digestHex, parseReference, type Reference } from '../oci/index.js';
import { RegistryClient, type RegistryOptions, type RemoteRepository } from '../registry/index.js';
import { type BaseImage, generateSbom, SBOM_MEDIA_TYPES, type SbomFormat } from '../sbom/index.js';
import { gitSource } from './git.js';
import { layoutArtifactManifests } from './layout.js';
import { type ProvenanceMode, provenanceStatement } from './provenance.js';
import {
  type Artifact,
  artifactManifests,
  attachArtifact,
  attachManifests,
  pushArtifactBlobs,
  pushArtifactManifests,
} from './referrers.js';
import {
  BUNDLE_MEDIA_TYPE,
  COSIGN_SIGN_PREDICATE,
  IN_TOTO_STATEMENT_V1,
  type SigningOptions,
  type Statement,
  statementSigner,
} from './sigstore.js';
import { openReferrerSource } from './source.js';

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
  /**
   * Sign the image (cosign's `https://sigstore.dev/cosign/sign/v1` statement) and the SBOM and provenance
   * (DSSE in-toto statements), each a Sigstore bundle attached as a referrer beside the unsigned artifacts.
   */
  readonly sign?: SigningOptions | undefined;
}

/** The in-toto predicate types of wharf's SBOM formats (what cosign attest uses for them). */
const SBOM_PREDICATES: Readonly<Record<SbomFormat, string>> = {
  'spdx-json': 'https://spdx.dev/Document',
  'cyclonedx-json': 'https://cyclonedx.org/bom',
};

/**
 * A signed statement as an artifact: cosign's bundle layout (BUNDLE_SPEC.md), with its annotations.
 *
 * @example
 * await attachArtifact(repository, subject, bundleArtifact(await signer.sign(statement), statement.predicateType));
 */
export function bundleArtifact(bundle: unknown, predicateType: string): Artifact {
  const bytes = Buffer.from(JSON.stringify(bundle));
  const hex = createHash('sha256').update(bytes).digest('hex');
  return {
    artifactType: BUNDLE_MEDIA_TYPE,
    blobs: [
      {
        mediaType: BUNDLE_MEDIA_TYPE,
        bytes,
        annotations: { 'org.opencontainers.image.title': `sha256-${hex}.sigstore.json` },
      },
    ],
    annotations: {
      'dev.sigstore.bundle.content': 'dsse-envelope',
      'dev.sigstore.bundle.predicateType': predicateType,
      'org.opencontainers.image.created': new Date().toISOString(),
    },
  };
}

/** What a statement calls an image written without a name (a layout output without -t). */
const UNNAMED = 'image';

/** The repositories of `names` (`UNNAMED` when there are none). */
function repositoriesOf(names: readonly string[]): string[] {
  return names.length === 0 ? [UNNAMED] : [...new Set(names.map((n) => parseReference(n).name))];
}

/** The subjects of a statement about `digest` pushed as `names`: one per repository. */
function subjectsOf(names: readonly string[], digest: Digest): Statement['subject'] {
  return repositoriesOf(names).map((name) => ({
    name,
    digest: { sha256: digestHex(digest) },
  }));
}

/**
 * The artifacts to attach to `subject` (pushed as `names`): at most an SBOM (an image only: an index has
 * no file tree) and a provenance statement, and with `options.sign` the signature and a signed bundle of each.
 */
async function artifactsFor(
  subject: Image | ImageIndex,
  names: readonly string[],
  digest: Digest,
  options: AttestOptions,
) {
  const artifacts: Artifact[] = [];
  // what is signed when options.sign is set: the image itself, then each attestation
  const statements: Statement[] = [
    {
      _type: IN_TOTO_STATEMENT_V1,
      subject: subjectsOf(names, digest),
      predicateType: COSIGN_SIGN_PREDICATE,
      predicate: {},
    },
  ];
  const subjectName = repositoriesOf(names)[0] as string;
  // the signer reads its key (or loads @sigstore/sign) while the SBOM is catalogued
  const signer = options.sign ? statementSigner(options.sign) : undefined;
  signer?.catch(() => {});
  if (options.sbom && !isImageIndex(subject)) {
    const text = await generateSbom(subject, {
      subject: { name: subjectName, digest },
      bases: options.bases ?? [],
      format: options.sbom,
    });
    const mediaType = SBOM_MEDIA_TYPES[options.sbom];
    artifacts.push({ artifactType: mediaType, blobs: [{ mediaType, bytes: Buffer.from(text) }] });
    statements.push({
      _type: IN_TOTO_STATEMENT_V1,
      subject: subjectsOf(names, digest),
      predicateType: SBOM_PREDICATES[options.sbom],
      predicate: JSON.parse(text),
    });
  }
  const provenance = options.provenance;
  if (provenance) {
    const git = provenance.contextDir ? await gitSource(provenance.contextDir) : undefined;
    const statement = provenanceStatement({
      subjects: repositoriesOf(names).map((name) => ({ name, digest })),
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
    statements.push(statement as unknown as Statement);
  }
  if (signer) {
    const ready = await signer;
    for (const statement of statements) {
      artifacts.push(bundleArtifact(await ready.sign(statement), statement.predicateType));
    }
  }
  return artifacts;
}

/** What {@link prepareAttestations} made: the subject's descriptor and the artifacts to attach to it. */
export interface PreparedAttestations {
  readonly subject: Descriptor;
  readonly artifacts: readonly Artifact[];
}

/**
 * Makes (and signs) the SBOM, provenance and signature `options` asks for about `subject` — an image, or
 * a multi-platform image's index (no SBOM: it has no file tree) — to be pushed as `names` (none: a
 * layout output without a name), without
 * touching a registry: the subject's digest is known before its push, so a build makes them while it
 * pushes and attaches them after ({@link attachPrepared}).
 *
 * @example
 * const prepared = prepareAttestations(image, ['registry.example.com/app:1.0'], { sbom: 'spdx-json' });
 * await pushImage(image, ['registry.example.com/app:1.0']);
 * await attachPrepared(await prepared, ['registry.example.com/app:1.0']);
 */
export async function prepareAttestations(
  subject: Image | ImageIndex,
  names: readonly string[],
  options: AttestOptions,
): Promise<PreparedAttestations> {
  const digest = await subject.digest();
  const descriptor: Descriptor = {
    mediaType: await subject.mediaType(),
    digest,
    size: (await subject.rawManifest()).byteLength,
  };
  if (!options.sbom && !options.provenance && !options.sign) {
    return { subject: descriptor, artifacts: [] };
  }
  return { subject: descriptor, artifacts: await artifactsFor(subject, names, digest, options) };
}

/** Attaches prepared artifacts in every repository of `names` (once per repository). */
export async function attachPrepared(
  prepared: PreparedAttestations,
  names: readonly string[],
  registry: RegistryOptions = {},
): Promise<Descriptor[]> {
  if (prepared.artifacts.length === 0) return [];
  const staged = stageAttestations(Promise.resolve([prepared]), names, registry);
  try {
    return await staged.attach();
  } finally {
    await staged.close();
  }
}

/** Attestations on their way to the registry: see {@link stageAttestations}. */
export interface StagedAttestations {
  /** Once the subjects are pushed: the artifact manifests and the referrers tag. Returns their descriptors. */
  attach(): Promise<Descriptor[]>;
  /** Closes the registry clients (on every path: after attach, or when the push failed). */
  close(): Promise<void>;
}

/**
 * Starts attaching what `prepared` will hold in every repository of `names`: the clients connect and
 * the artifacts' files are uploaded as soon as they are made, while the image itself is still being
 * pushed (a blob needs no subject); {@link StagedAttestations.attach} then pushes only the manifests —
 * with `subject`, they wait for the image — and the referrers tag.
 *
 * @example
 * const staged = stageAttestations(prepareAttestations(image, names, { sbom: 'spdx-json' }).then((p) => [p]), names);
 * try {
 *   await pushImage(image, names);
 *   await staged.attach();
 * } finally {
 *   await staged.close();
 * }
 */
export function stageAttestations(
  prepared: Promise<readonly PreparedAttestations[]>,
  names: readonly string[],
  registry: RegistryOptions = {},
): StagedAttestations {
  const repositories = [...new Map(names.map((n) => parseReference(n)).map((r) => [r.name, r])).values()];
  const clients = repositories.map((r) => new RegistryClient(r.registry, registry));
  const made = prepared.then((all) =>
    all.map((one) => ({ subject: one.subject, manifests: artifactManifests(one.subject, one.artifacts) })),
  );
  const uploads = clients.map(async (client, i) => {
    const repository = client.repository((repositories[i] as Reference).repository, 'pull,push');
    const all = await made;
    await pushArtifactBlobs(
      repository,
      all.flatMap((one) => one.manifests),
    );
    return { repository, all };
  });
  for (const upload of uploads) upload.catch(() => {}); // awaited by attach(); a failed push skips it
  return {
    async attach() {
      const attached: Descriptor[] = [];
      for (const upload of uploads) {
        const { repository, all } = await upload;
        for (const { subject, manifests } of all) {
          attached.push(...(await pushArtifactManifests(repository, subject, manifests)));
        }
      }
      return attached;
    },
    async close() {
      await Promise.allSettled(uploads);
      await Promise.all(clients.map((client) => client.close()));
    },
  };
}

/** Attaches the SBOM and provenance `options` asks for to `image`, already pushed as `names`. */
export async function attestPushed(
  image: Image | ImageIndex,
  names: readonly string[],
  options: AttestOptions,
): Promise<Descriptor[]> {
  return attachPrepared(await prepareAttestations(image, names, options), names, options.registry);
}

/**
 * The newest artifact of `artifactType` attached to the image `reference` names (a tag is resolved to its
 * manifest digest first; `oci:DIR[:NAME]` reads a layout), as bytes; `undefined` when none is attached.
 */
export async function readAttached(
  reference: string,
  artifactType: string,
  registry: RegistryOptions = {},
): Promise<{ readonly digest: Digest; readonly bytes: Uint8Array } | undefined> {
  const source = await openReferrerSource(reference, registry);
  try {
    const newest = (await source.referrers(artifactType)).at(-1);
    if (!newest) return undefined;
    const [blob] = await source.files(newest);
    return blob ? { digest: source.subject.digest, bytes: blob.bytes } : undefined;
  } finally {
    await source.close();
  }
}

/** The image a reference names, as a subject descriptor (a tag is resolved to its manifest digest). */
async function subjectOf(repository: RemoteRepository, reference: Reference): Promise<Descriptor> {
  const fetched = await repository.fetchManifest(reference.digest ?? reference.tag ?? 'latest');
  return { mediaType: fetched.mediaType, digest: fetched.digest, size: fetched.bytes.byteLength };
}

export interface SignImageOptions {
  readonly sign: SigningOptions;
  readonly registry?: RegistryOptions;
}

/**
 * `wharf sign REF`: signs the image `reference` names (a tag is resolved to its digest first; the
 * signature binds that digest) and attaches the Sigstore bundle as a referrer. Returns the signed digest
 * and the bundle artifact's descriptor.
 *
 * @example
 * const { digest } = await signImage('registry.example.com/app:1.0', { sign: { kind: 'key', keyFile: 'cosign.key' } });
 */
export async function signImage(
  reference: string,
  options: SignImageOptions,
): Promise<{ readonly digest: Digest; readonly artifact: Descriptor }> {
  const ref = parseReference(reference);
  const signer = await statementSigner(options.sign);
  const client = new RegistryClient(ref.registry, options.registry ?? {});
  try {
    const repository = client.repository(ref.repository, 'pull,push');
    const subject = await subjectOf(repository, ref);
    const statement: Statement = {
      _type: IN_TOTO_STATEMENT_V1,
      subject: subjectsOf([reference], subject.digest),
      predicateType: COSIGN_SIGN_PREDICATE,
      predicate: {},
    };
    const artifact = bundleArtifact(await signer.sign(statement), COSIGN_SIGN_PREDICATE);
    return { digest: subject.digest, artifact: await attachArtifact(repository, subject, artifact) };
  } finally {
    await client.close();
  }
}

/** One referrer of an image, as `wharf attestations` lists it. */
export interface AttachedArtifact {
  readonly digest: Digest;
  readonly artifactType: string;
  /** `dev.sigstore.bundle.predicateType` or `in-toto.io/predicate-type`, when annotated. */
  readonly predicateType?: string | undefined;
  readonly created?: string | undefined;
}

/**
 * Every artifact attached to the image `reference` names (referrers API, or the tag fallback; in a layout,
 * `oci:DIR[:NAME]`, its index.json), unverified.
 *
 * @example
 * for (const a of (await listAttestations('registry.example.com/app:1.0')).artifacts) console.log(a.artifactType);
 */
export async function listAttestations(
  reference: string,
  registry: RegistryOptions = {},
): Promise<{ readonly digest: Digest; readonly artifacts: AttachedArtifact[] }> {
  const source = await openReferrerSource(reference, registry);
  try {
    const artifacts = (await source.referrers()).map((d) => {
      const annotations = d.annotations ?? {};
      const predicateType =
        annotations['dev.sigstore.bundle.predicateType'] ?? annotations['in-toto.io/predicate-type'];
      const created = annotations['org.opencontainers.image.created'];
      return {
        digest: d.digest,
        artifactType: d.artifactType ?? d.mediaType,
        ...(predicateType ? { predicateType } : {}),
        ...(created ? { created } : {}),
      };
    });
    return { digest: source.subject.digest, artifacts };
  } finally {
    await source.close();
  }
}

/**
 * `wharf push DIR REF`: the referrers a layout holds about each pushed digest (the image, or an index
 * and its platforms' images), pushed unchanged (signatures stay valid) beside it in every repository.
 * Returns how many artifacts were attached per repository.
 *
 * @example
 * await pushLayoutReferrers('out/app', [digest], ['registry.example.com/app:1.0']);
 */
export async function pushLayoutReferrers(
  dir: string,
  subjects: readonly Descriptor[],
  names: readonly string[],
  registry: RegistryOptions = {},
): Promise<number> {
  const found = [];
  for (const subject of subjects) {
    const manifests = await layoutArtifactManifests(dir, subject.digest);
    if (manifests.length > 0) found.push({ subject, manifests });
  }
  if (found.length === 0) return 0;
  let attached = 0;
  const repositories = new Map(names.map((n) => parseReference(n)).map((r) => [r.name, r]));
  for (const reference of repositories.values()) {
    const client = new RegistryClient(reference.registry, registry);
    try {
      const repository = client.repository(reference.repository, 'pull,push');
      for (const { subject, manifests } of found) {
        attached += (await attachManifests(repository, subject, manifests)).length;
      }
    } finally {
      await client.close();
    }
  }
  return attached;
}
