/**
 * SLSA v1 provenance (https://slsa.dev/spec/v1.0/provenance) in an in-toto Statement v1: what was built
 * (the subject, by digest), from what (definition, target, build args, platforms; every base, the
 * context and its git commit, by digest) and by whom (builder id and version, invocation, times).
 * `mode: 'max'` adds the build graph (the IR). Secrets never appear: only their ids are in the IR, and
 * build args are the user's `--build-arg`s (secrets travel through `--secret`, never as args).
 */
import { type Digest, digestAlgorithm, digestHex } from '../oci/index.js';

export const IN_TOTO_STATEMENT = 'https://in-toto.io/Statement/v1';
export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';
/** The buildType: how to read externalParameters (documented in docs/supply-chain.md). */
export const WHARF_BUILD_TYPE = 'https://wharf.dev/build-types/wharf-build/v1';

export type ProvenanceMode = 'min' | 'max';

export interface ProvenanceInput {
  /** What the statement is about: each pushed manifest (and index) by name and digest. */
  readonly subjects: readonly { readonly name: string; readonly digest: Digest }[];
  /** The definition file (build.ts or Dockerfile), relative to the context or as given, and its digest. */
  readonly definition: { readonly path: string; readonly digest: Digest };
  readonly target?: string | undefined;
  readonly buildArgs?: Readonly<Record<string, string>>;
  readonly platforms: readonly string[];
  /** Every FROM image as resolved: `reference` as written, `digest` (the index's when it was one). */
  readonly bases: readonly { readonly reference: string; readonly digest: Digest }[];
  readonly context?: { readonly uri: string; readonly digest: Digest } | undefined;
  /** The context's git checkout, when it is one (see {@link gitSource}). */
  readonly git?: { readonly commit: string; readonly remote?: string | undefined } | undefined;
  readonly builder: { readonly id: string; readonly version: string };
  readonly invocationId: string;
  readonly startedOn: Date;
  readonly finishedOn: Date;
  readonly mode?: ProvenanceMode;
  /** The build graph (IR), included with mode max. */
  readonly buildGraph?: unknown;
}

/** `{ sha256: hex }`: in-toto's DigestSet. */
function digestSet(digest: Digest): Record<string, string> {
  return { [digestAlgorithm(digest)]: digestHex(digest) };
}

/** Images are named by `pkg:docker/…` purls, as BuildKit's provenance names them. */
function imageUri(reference: string): string {
  return `pkg:docker/${reference.replace(/@.*$/, '')}`;
}

export function provenanceStatement(input: ProvenanceInput): Record<string, unknown> {
  const resolvedDependencies: Record<string, unknown>[] = input.bases.map((base) => ({
    uri: imageUri(base.reference),
    digest: digestSet(base.digest),
    name: base.reference,
  }));
  if (input.context) {
    resolvedDependencies.push({
      uri: input.context.uri,
      digest: digestSet(input.context.digest),
      name: 'context',
    });
  }
  if (input.git) {
    resolvedDependencies.push({
      uri: input.git.remote ? `git+${input.git.remote}` : 'git+local',
      digest: { gitCommit: input.git.commit },
      name: 'context-git',
    });
  }
  const externalParameters: Record<string, unknown> = {
    definition: { path: input.definition.path, digest: digestSet(input.definition.digest) },
    platforms: [...input.platforms],
    buildArgs: { ...(input.buildArgs ?? {}) },
  };
  if (input.target !== undefined) externalParameters.target = input.target;
  const buildDefinition: Record<string, unknown> = {
    buildType: WHARF_BUILD_TYPE,
    externalParameters,
    resolvedDependencies,
  };
  if (input.mode === 'max' && input.buildGraph !== undefined) {
    buildDefinition.internalParameters = { buildGraph: input.buildGraph };
  }
  return {
    _type: IN_TOTO_STATEMENT,
    subject: input.subjects.map((s) => ({ name: s.name, digest: digestSet(s.digest) })),
    predicateType: SLSA_PROVENANCE_V1,
    predicate: {
      buildDefinition,
      runDetails: {
        builder: { id: input.builder.id, version: { wharf: input.builder.version } },
        metadata: {
          invocationId: input.invocationId,
          startedOn: input.startedOn.toISOString(),
          finishedOn: input.finishedOn.toISOString(),
        },
      },
    },
  };
}
