// Where the peer suites are (others' test data, kept outside the repository) and what to say when they are
// not there. Read by vitest.config.ts (to decide whether the conformance project has files) and by its tests.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** `WHARF_PEER_SUITES`, default `../shared/peer-suites` relative to the repository root. */
export const peerSuitesDir: string = resolve(
  repoRoot,
  process.env.WHARF_PEER_SUITES || '../shared/peer-suites',
);

/** The suites the conformance tests read, with where each comes from. */
const SUITES = [
  'buildkit-parser (moby/buildkit@73ed6825)',
  'oci-image-spec (opencontainers/image-spec@13cff549)',
  'dockerignore (moby/patternmatcher@5a6d8429)',
  'charliecloud-copy (hpc/charliecloud@23de6eee)',
];

/** True when every suite folder is there. */
export function peerSuitesPresent(): boolean {
  return SUITES.every((s) => existsSync(join(peerSuitesDir, s.split(' ')[0] ?? '')));
}

/** The one line a run prints (or CI fails with) when the suites are missing. */
export function missingPeerSuitesLine(): string {
  return (
    `conformance tests not run: no peer suites at ${peerSuitesDir}; put ${SUITES.join(', ')} ` +
    'there or set WHARF_PEER_SUITES (see README "Set up")'
  );
}

/** A path inside one suite. */
export function peerSuite(...path: string[]): string {
  return join(peerSuitesDir, ...path);
}
