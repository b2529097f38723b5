/** Supply-chain attestations: SLSA v1 provenance, the git source of a context, OCI 1.1 referrers. */

export type { AttestOptions } from './attest.js';
export { attestPushed, IN_TOTO_MEDIA_TYPE, readAttached } from './attest.js';
export { gitSource, redactRemote } from './git.js';
export type { ProvenanceInput, ProvenanceMode } from './provenance.js';
export {
  IN_TOTO_STATEMENT,
  provenanceStatement,
  SLSA_PROVENANCE_V1,
  WHARF_BUILD_TYPE,
} from './provenance.js';
export type { Artifact, ArtifactBlob } from './referrers.js';
export { artifactManifest, attachArtifact, fetchArtifact, listReferrers, referrersTag } from './referrers.js';
