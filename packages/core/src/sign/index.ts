/**
 * Supply-chain attestations: SLSA v1 provenance, the git source of a context, OCI 1.1 referrers, and
 * Sigstore signatures (DSSE bundles, key or keyless) with their verification.
 */

export type {
  AttachedArtifact,
  AttestOptions,
  PreparedAttestations,
  SignImageOptions,
  StagedAttestations,
} from './attest.js';
export {
  attachPrepared,
  attestPushed,
  bundleArtifact,
  IN_TOTO_MEDIA_TYPE,
  listAttestations,
  prepareAttestations,
  pushLayoutReferrers,
  readAttached,
  signImage,
  stageAttestations,
} from './attest.js';
export { gitSource, redactRemote } from './git.js';
export {
  attachToLayout,
  layoutArtifactManifests,
  layoutReferrers,
  layoutSubject,
  storeInLayout,
} from './layout.js';
export type { ProvenanceInput, ProvenanceMode } from './provenance.js';
export {
  IN_TOTO_STATEMENT,
  provenanceStatement,
  SLSA_PROVENANCE_V1,
  WHARF_BUILD_TYPE,
} from './provenance.js';
export type { Artifact, ArtifactBlob, ArtifactManifest } from './referrers.js';
export {
  artifactManifest,
  artifactManifests,
  attachArtifact,
  attachArtifacts,
  attachManifests,
  fetchArtifact,
  listReferrers,
  pushArtifactBlobs,
  pushArtifactManifests,
  referrersTag,
} from './referrers.js';
export type { SigningOptions, Statement, StatementSigner } from './sigstore.js';
export {
  BUNDLE_MEDIA_TYPE,
  COSIGN_SIGN_PREDICATE,
  keyHint,
  loadPrivateKey,
  loadPublicKey,
  parsePrivateKey,
  preAuthEncoding,
  statementFor,
  statementSigner,
} from './sigstore.js';
export type { ReferrerSource } from './source.js';
export { layoutReference, openReferrerSource } from './source.js';
export type { VerifiedStatement, VerifyOptions, VerifyPolicy, VerifyResult } from './verify.js';
export { verifyImage } from './verify.js';
