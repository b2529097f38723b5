/**
 * `--sbom`, `--provenance` and `--sign` of `wharf build` (`--sign` of `wharf push` too): attach an SBOM,
 * SLSA provenance and Sigstore signatures to each pushed image as OCI 1.1 referrers, or store them in
 * a `-o type=oci` layout (index.json entries with `subject`, as oras does). Archives carry none.
 */
import type { KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { WharfError } from '@wharf/core';
import * as sign from '@wharf/core/sign';
import { Option } from 'commander';

export interface AttestFlags {
  readonly sbom?: string | boolean;
  readonly provenance?: string | boolean;
  readonly sign?: string;
}

export function signOption(): Option {
  return new Option(
    '--sign <how>',
    'sign the pushed image and its attestations: key=FILE[,rekor=URL] (PEM ECDSA P-256; COSIGN_PASSWORD if encrypted) | keyless[,fulcio=URL][,rekor=URL][,tsa=URL]',
  );
}

/**
 * Reads and parses the signing key (bounded: a PEM key is a few hundred bytes); the key is handed on,
 * so a cosign key's scrypt runs once.
 */
function checkKeyFile(path: string, passphrase: string | undefined): KeyObject {
  let pem: string;
  try {
    if (statSync(path).size > 64 * 1024) throw new Error('larger than 64 KiB');
    pem = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new WharfError('SIGN_BAD_KEY', `signing key ${path} cannot be read`, {
      cause,
      hint: 'pass the path of a PEM ECDSA P-256 private key, e.g. --sign key=cosign.key',
    });
  }
  return sign.parsePrivateKey(pem, path, passphrase);
}

/**
 * Parses `--sign key=FILE` or `--sign keyless[,fulcio=URL][,rekor=URL][,tsa=URL]` (keyless takes the CI's OIDC token:
 * GitHub Actions' request URL and token, or SIGSTORE_ID_TOKEN).
 */
export function parseSignSpec(spec: string): sign.SigningOptions {
  const fields = new Map<string, string>();
  for (const part of spec.split(',')) {
    const at = part.indexOf('=');
    fields.set(at < 0 ? part.trim() : part.slice(0, at).trim(), at < 0 ? '' : part.slice(at + 1));
  }
  const bad = (why: string) =>
    new WharfError('CLI_BAD_SIGN', `--sign ${spec}: ${why}`, {
      hint: 'use --sign key=cosign.key or --sign keyless (optionally keyless,fulcio=URL,rekor=URL,tsa=URL)',
    });
  const url = (name: string) => {
    const value = fields.get(name);
    if (value === undefined) return undefined;
    if (!/^https?:\/\/[^\s]+$/.test(value)) throw bad(`${name}= must be an http(s) URL`);
    return value;
  };
  const key = fields.get('key');
  if (key !== undefined) {
    if (!key) throw bad('key= needs a file');
    for (const name of fields.keys()) {
      if (name !== 'key' && name !== 'rekor') throw bad(`key= takes only rekor=URL besides, not ${name}`);
    }
    const passphrase = process.env.COSIGN_PASSWORD;
    const privateKey = checkKeyFile(key, passphrase); // a bad key fails now, before anything is built or pushed
    const rekorUrl = url('rekor');
    return {
      kind: 'key',
      keyFile: key,
      privateKey,
      ...(passphrase !== undefined ? { passphrase } : {}),
      ...(rekorUrl ? { rekorUrl } : {}),
    };
  }
  if (!fields.has('keyless')) throw bad('say key=FILE or keyless');
  for (const name of fields.keys()) {
    if (!['keyless', 'fulcio', 'rekor', 'tsa'].includes(name)) throw bad(`unknown field ${name}`);
  }
  return { kind: 'keyless', fulcioUrl: url('fulcio'), rekorUrl: url('rekor'), tsaUrl: url('tsa') };
}

export function sbomOption(): Option {
  return new Option(
    '--sbom [format]',
    'attach an SBOM to the pushed image (or -o type=oci layout): spdx-json (default) | cyclonedx-json',
  );
}

export function provenanceOption(): Option {
  return new Option(
    '--provenance [mode]',
    'attach SLSA v1 provenance to the pushed image (or -o type=oci layout): mode=min (default) | mode=max',
  );
}

export interface Attestation {
  readonly sbom?: 'spdx-json' | 'cyclonedx-json';
  readonly provenance?: 'min' | 'max';
  readonly sign?: sign.SigningOptions;
}

/** Checks the flags before any work: formats and modes, and that an output can hold them (a push or a layout). */
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
  const signing = flags.sign === undefined ? undefined : parseSignSpec(flags.sign);
  if ((sbom || mode || signing) && !pushes) {
    throw new WharfError(
      'CLI_ATTEST_NEEDS_PUSH',
      '--sbom, --provenance and --sign apply to a pushed image or an OCI layout',
      {
        hint: 'add --push (or -o type=registry) with -t registry.example.com/app:1.0, or -o type=oci,dest=DIR',
      },
    );
  }
  return {
    ...(sbom ? { sbom } : {}),
    ...(mode ? { provenance: mode } : {}),
    ...(signing ? { sign: signing } : {}),
  };
}
