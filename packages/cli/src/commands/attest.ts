/**
 * `--sbom` and `--provenance` of `wharf build`: attach an SBOM and SLSA provenance to each pushed image as
 * OCI 1.1 referrers. Only pushes carry them for now (layouts and archives do not: the flags say so).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { type BuildGraph, WharfError } from '@wharf/core';
import type { Image } from '@wharf/core/image';
import type * as oci from '@wharf/core/oci';
import type { RegistryOptions } from '@wharf/core/registry';
import * as sign from '@wharf/core/sign';
import { Option } from 'commander';
import { version } from '../version.js';

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

export interface AttachContext {
  readonly definitionFile: string;
  readonly contextDir: string;
  readonly graph: BuildGraph;
  readonly target?: string | undefined;
  readonly buildArgs: Readonly<Record<string, string>>;
  readonly bases?: readonly { readonly reference: string; readonly digest: oci.Digest }[] | undefined;
  readonly startedOn: Date;
  readonly registry: RegistryOptions;
}

/** Attaches what `attestation` asks for to `image`, pushed as `names`. */
export async function attachAfterPush(
  image: Image,
  names: readonly string[],
  attestation: Attestation,
  context: AttachContext,
): Promise<void> {
  if (!attestation.sbom && !attestation.provenance) return;
  const config = await image.config();
  const platform = [config.os, config.architecture, config.variant].filter(Boolean).join('/');
  const definition = await readFile(context.definitionFile);
  const digest = `sha256:${createHash('sha256').update(definition).digest('hex')}` as oci.Digest;
  await sign.attestPushed(image, names, {
    sbom: attestation.sbom,
    provenance: attestation.provenance
      ? {
          mode: attestation.provenance,
          definition: { path: context.definitionFile, digest },
          target: context.target,
          buildArgs: context.buildArgs,
          platforms: [platform],
          contextDir: context.contextDir,
          builder: { id: 'https://wharf.dev/builder/wharf-cli', version },
          startedOn: context.startedOn,
          buildGraph: context.graph,
        }
      : undefined,
    bases: context.bases ?? [],
    registry: context.registry,
  });
}
