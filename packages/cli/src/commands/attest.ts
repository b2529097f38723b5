/**
 * `--sbom` and `--provenance` of `wharf build`: attach an SBOM and SLSA provenance to each pushed image as
 * OCI 1.1 referrers. Only pushes carry them for now (layouts and archives do not: the flags say so).
 */
import { WharfError } from '@wharf/core';
import { Option } from 'commander';

export interface AttestFlags {
  readonly sbom?: string | boolean;
  readonly provenance?: string | boolean;
}

export function sbomOption(): Option {
  return new Option(
    '--sbom [format]',
    'attach an SBOM to the pushed image: spdx-json (default) | cyclonedx-json',
  );
}

export function provenanceOption(): Option {
  return new Option(
    '--provenance [mode]',
    'attach SLSA v1 provenance to the pushed image: mode=min (default) | mode=max',
  );
}

export interface Attestation {
  readonly sbom?: 'spdx-json' | 'cyclonedx-json';
  readonly provenance?: 'min' | 'max';
}

/** Checks the flags before any work: formats and modes, and that something is pushed. */
export function parseAttestFlags(flags: AttestFlags, pushes: boolean): Attestation {
  const sbom =
    flags.sbom === undefined || flags.sbom === false
      ? undefined
      : flags.sbom === true
        ? 'spdx-json'
        : flags.sbom;
  if (sbom !== undefined && sbom !== 'spdx-json' && sbom !== 'cyclonedx-json') {
    throw new WharfError('CLI_BAD_SBOM_FORMAT', `--sbom ${sbom}: unknown format`, {
      hint: 'use --sbom, --sbom spdx-json or --sbom cyclonedx-json',
    });
  }
  const raw = flags.provenance;
  const mode =
    raw === undefined || raw === false ? undefined : raw === true ? 'min' : raw.replace(/^mode=/, '');
  if (mode !== undefined && mode !== 'min' && mode !== 'max') {
    throw new WharfError('CLI_BAD_PROVENANCE', `--provenance ${String(raw)}: unknown mode`, {
      hint: 'use --provenance, --provenance mode=min or --provenance mode=max',
    });
  }
  if ((sbom || mode) && !pushes) {
    throw new WharfError('CLI_ATTEST_NEEDS_PUSH', '--sbom and --provenance are attached to a pushed image', {
      hint: 'add --push (or -o type=registry) with -t registry.example.com/app:1.0',
    });
  }
  return { ...(sbom ? { sbom } : {}), ...(mode ? { provenance: mode } : {}) };
}
