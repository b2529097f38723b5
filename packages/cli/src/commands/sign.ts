/** `wharf sign REF --key FILE | --keyless`: sign a pushed image and attach the Sigstore bundle as a referrer. */
import { WharfError } from '@wharf/core';
import * as sign from '@wharf/core/sign';
import type { Command } from 'commander';
import { parseSignSpec } from './attest.js';
import { type RegistryFlags, registryOptions, registryOptionsFrom } from './pull.js';

interface SignFlags extends RegistryFlags {
  readonly key?: string;
  readonly keyless?: boolean;
  readonly fulcioUrl?: string;
  readonly rekorUrl?: string;
  readonly tsaUrl?: string;
}

/** The SigningOptions `--key` / `--keyless` ask for (exactly one of them). */
function signingFrom(flags: SignFlags): sign.SigningOptions {
  if (Boolean(flags.key) === Boolean(flags.keyless)) {
    throw new WharfError('CLI_BAD_SIGN', 'wharf sign needs exactly one of --key FILE and --keyless', {
      hint: 'use --key cosign.key, or --keyless in CI (GitHub Actions id-token, or SIGSTORE_ID_TOKEN)',
    });
  }
  if (flags.key) return parseSignSpec(`key=${flags.key}${flags.rekorUrl ? `,rekor=${flags.rekorUrl}` : ''}`);
  const parts = ['keyless'];
  if (flags.fulcioUrl) parts.push(`fulcio=${flags.fulcioUrl}`);
  if (flags.rekorUrl) parts.push(`rekor=${flags.rekorUrl}`);
  if (flags.tsaUrl) parts.push(`tsa=${flags.tsaUrl}`);
  return parseSignSpec(parts.join(','));
}

export function registerSign(program: Command): void {
  const command = program
    .command('sign')
    .description('sign a pushed image (Sigstore bundle attached as an OCI 1.1 referrer, as cosign does)')
    .argument('<ref>', 'the image, e.g. registry.example.com/app:1.0 (a tag is resolved to its digest)')
    .option('--key <file>', 'PEM ECDSA P-256 private key (PKCS#8 or SEC1; COSIGN_PASSWORD if encrypted)')
    .option('--keyless', 'Fulcio certificate for the CI OIDC identity, recorded in Rekor')
    .option('--fulcio-url <url>', 'Fulcio for --keyless (default https://fulcio.sigstore.dev)')
    .option(
      '--rekor-url <url>',
      'Rekor (--keyless: default https://rekor.sigstore.dev; --key: none unless given)',
    )
    .option('--tsa-url <url>', 'also countersign with this RFC 3161 timestamp authority (--keyless)');
  registryOptions(command).action(async (ref: string, flags: SignFlags, cmd: Command) => {
    const signing = signingFrom(flags);
    const { digest, artifact } = await sign.signImage(ref, {
      sign: signing,
      registry: registryOptionsFrom({ ...flags, quiet: true }, cmd),
    });
    if (!flags.quiet) process.stderr.write(`signed ${digest}: signature ${artifact.digest}\n`);
    process.stdout.write(`${digest}\n`);
  });
}
