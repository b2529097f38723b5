/**
 * `wharf verify REF --key PUB | --certificate-identity X --certificate-oidc-issuer Y`: verify the image's
 * Sigstore signature (bound to the exact manifest digest) and list the attestations that verify.
 * Exit 1 with one line naming what failed.
 */
import { WharfError } from '@wharf/core';
import * as sign from '@wharf/core/sign';
import type { Command } from 'commander';
import { type RegistryFlags, registryOptions, registryOptionsFrom } from './pull.js';

interface VerifyFlags extends RegistryFlags {
  readonly key?: string;
  readonly certificateIdentity?: string;
  readonly certificateOidcIssuer?: string;
  readonly trustedRoot?: string;
}

function policyFrom(flags: VerifyFlags): sign.VerifyPolicy {
  const keyless = flags.certificateIdentity !== undefined || flags.certificateOidcIssuer !== undefined;
  if (Boolean(flags.key) === keyless) {
    throw new WharfError(
      'CLI_BAD_VERIFY',
      'wharf verify needs --key PUB, or --certificate-identity with --certificate-oidc-issuer',
      { hint: 'e.g. wharf verify REF --key cosign.pub' },
    );
  }
  if (flags.key) return { kind: 'key', keyFile: flags.key, trustedRootFile: flags.trustedRoot };
  if (!flags.certificateIdentity || !flags.certificateOidcIssuer) {
    throw new WharfError(
      'CLI_BAD_VERIFY',
      'keyless verification needs --certificate-identity and --certificate-oidc-issuer (and --trusted-root)',
      {
        hint: 'e.g. --certificate-identity https://github.com/org/repo/.github/workflows/ci.yml@refs/heads/main --certificate-oidc-issuer https://token.actions.githubusercontent.com --trusted-root trusted_root.json',
      },
    );
  }
  if (!flags.trustedRoot) {
    // no TUF client here: the root of trust is a file the user fetched and trusts
    throw new WharfError(
      'CLI_BAD_VERIFY',
      'keyless verification needs --trusted-root FILE: wharf does not fetch the Sigstore root (TUF) itself',
      {
        hint: 'pass --trusted-root trusted_root.json: `cosign initialize` fetches the public one (~/.sigstore/root/tuf-repo-cdn.sigstore.dev/targets/trusted_root.json); `cosign trusted-root create` makes one for a private Sigstore',
      },
    );
  }
  return {
    kind: 'identity',
    identity: flags.certificateIdentity,
    issuer: flags.certificateOidcIssuer,
    trustedRootFile: flags.trustedRoot,
  };
}

export function registerVerify(program: Command): void {
  const command = program
    .command('verify')
    .description('verify the signature of a pushed image and list its verified attestations')
    .argument('<ref>', 'the image: registry.example.com/app:1.0, …@sha256:…, or an OCI layout oci:DIR[:NAME]')
    .option('--key <pub>', 'PEM public key (ECDSA P-256) the image must be signed with')
    .option(
      '--certificate-identity <id>',
      'keyless: the signer identity (certificate SAN), e.g. a workflow URI',
    )
    .option('--certificate-oidc-issuer <url>', 'keyless: the OIDC issuer of that identity')
    .option(
      '--trusted-root <file>',
      'Sigstore trusted_root.json (Fulcio CA, Rekor, CT log and TSA keys); required for keyless, and checks Rekor entries of keyed signatures (no TUF fetch: see docs/supply-chain.md)',
    );
  registryOptions(command).action(async (ref: string, flags: VerifyFlags, cmd: Command) => {
    const policy = policyFrom(flags);
    const result = await sign.verifyImage(ref, {
      policy,
      registry: registryOptionsFrom({ ...flags, quiet: true }, cmd),
    });
    const out: string[] = [];
    for (const s of result.signatures)
      out.push(`verified ${result.digest}: signature ${s.artifact} by ${s.signer}`);
    for (const a of result.attestations)
      out.push(`verified attestation ${a.predicateType} (${a.artifact}) by ${a.signer}`);
    process.stdout.write(`${out.join('\n')}\n`);
    if (!flags.quiet) {
      for (const r of result.rejected)
        process.stderr.write(`wharf: warning: ${r.artifact} not verified: ${r.reason}\n`);
    }
  });
}
