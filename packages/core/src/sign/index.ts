/** Supply-chain attestations: SLSA v1 provenance, and the git source of a build context. */
export { gitSource, redactRemote } from './git.js';
export type { ProvenanceInput, ProvenanceMode } from './provenance.js';
export {
  IN_TOTO_STATEMENT,
  provenanceStatement,
  SLSA_PROVENANCE_V1,
  WHARF_BUILD_TYPE,
} from './provenance.js';
