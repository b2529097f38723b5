/**
 * Supply-chain attestations: SLSA v1 provenance, the git source of a context, OCI 1.1 referrers, and
 * Sigstore signatures (DSSE bundles, key or keyless) with their verification.
 */

export type { AttachedArtifact, AttestOptions, SignImageOptions } from './attest.js';
export {
  attestPushed,
  bundleArtifact,
  IN_TOTO_MEDIA_TYPE,
  listAttestations,
  readAttached,
  signImage,
} from './attest.js';
export { gitSource, redactRemote } from './git.js';
export type { ProvenanceInput, ProvenanceMode } from './provenance.js';
export {
  IN_TOTO_STATEMENT,
  provenanceStatement,
  SLSA_PROVENANCE_V1,
  WHARF_BUILD_TYPE,
} from './provenance.js';
export type { Artifact, ArtifactBlob } from './referrers.js';
export {
  artifactManifest,
  attachArtifact,
  attachArtifacts,
  fetchArtifact,
  listReferrers,
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
export type { VerifiedStatement, VerifyOptions, VerifyPolicy, VerifyResult } from './verify.js';
export { verifyImage } from './verify.js';
