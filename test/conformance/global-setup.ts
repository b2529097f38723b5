// vitest globalSetup for the `conformance` project: with CI=true, missing peer suites fail the run.
// (Off CI the project has no files when they are missing, and vitest.config.ts prints the one line.)
import { missingPeerSuitesLine, peerSuitesPresent } from './peer-suites.js';

export default function setup(): void {
  if (!peerSuitesPresent()) throw new Error(missingPeerSuitesLine());
}
