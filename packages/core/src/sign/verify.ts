/**
 * `wharf verify`: finds the Sigstore bundles attached to an image, verifies each with `@sigstore/verify`
 * (a public key, or a Fulcio certificate chain + Rekor entry + certificate identity under a trusted root),
 * and checks that each statement's subject is the exact manifest digest the reference resolves to. The
 * image is verified when at least one image signature (`https://sigstore.dev/cosign/sign/v1`) passes;
 * the attestations that pass are listed.
 */

import type { KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { WharfError } from '../errors.js';
import { type Digest, digestHex } from '../oci/index.js';
import { printable } from '../registry/errors.js';
import type { RegistryOptions } from '../registry/index.js';
import {
  BUNDLE_MEDIA_TYPE,
  COSIGN_SIGN_PREDICATE,
  IN_TOTO_PAYLOAD_TYPE,
  keyHint,
  loadPublicKey,
} from './sigstore.js';
import { openReferrerSource } from './source.js';

/** What a signature must have been made with. */
export type VerifyPolicy =
  | {
      readonly kind: 'key';
      readonly keyFile: string;
      /** To check Rekor entries of keyed bundles (then one is required); without it, keyed bundles must carry none. */
      readonly trustedRootFile?: string | undefined;
    }
  | {
      readonly kind: 'identity';
      /** The certificate's subject alternative name, e.g. a workflow URI or an email. */
      readonly identity: string;
      /** The OIDC issuer, e.g. `https://token.actions.githubusercontent.com`. */
      readonly issuer: string;
      /** A Sigstore `trusted_root.json` (Fulcio CAs, Rekor and CT log keys). */
      readonly trustedRootFile: string;
    };

export interface VerifyOptions {
  readonly policy: VerifyPolicy;
  readonly registry?: RegistryOptions;
}

/** A bundle that verified: what it states, who signed it, and where it is attached. */
export interface VerifiedStatement {
  readonly predicateType: string;
  /** The artifact manifest holding the bundle. */
  readonly artifact: Digest;
  /** `key <hint>`, or `<identity> (<issuer>)` for a certificate. */
  readonly signer: string;
}

export interface VerifyResult {
  readonly digest: Digest;
  readonly signatures: readonly VerifiedStatement[];
  readonly attestations: readonly VerifiedStatement[];
  /** Bundles that did not verify (an attestation failing does not fail the image). */
  readonly rejected: readonly { readonly artifact: Digest; readonly reason: string }[];
}

/** Why a bundle was rejected, most telling first (the error names the first one found). */
const FAILURE_ORDER = [
  'SIGN_TAMPERED',
  'SIGN_SUBJECT_MISMATCH',
  'SIGN_IDENTITY_MISMATCH',
  'SIGN_WRONG_KEY',
  'SIGN_UNTRUSTED',
] as const;
type FailureCode = (typeof FAILURE_ORDER)[number];

/** A bundle's failure; the message may quote the bundle (untrusted), so it is made printable (one line). */
class Rejected extends Error {
  constructor(
    readonly code: FailureCode,
    message: string,
  ) {
    super(printable(message));
  }
}

/** At most this many bundles are read per image (newest first): a registry can list any number. */
const BUNDLE_LIMIT = 64;

const HINTS: Readonly<Record<FailureCode, string>> = {
  SIGN_TAMPERED:
    'the bundle was altered after signing; do not run this image, and sign it again from a trusted build',
  SIGN_SUBJECT_MISMATCH:
    'the tag now points at another image than the one signed (retagged), or a signature was copied; verify by digest',
  SIGN_IDENTITY_MISMATCH: 'check --certificate-identity and --certificate-oidc-issuer against who signed it',
  SIGN_WRONG_KEY: 'pass the public key that pairs with the signing key (--key cosign.pub)',
  SIGN_UNTRUSTED: 'check --trusted-root: it must hold the Fulcio CA and Rekor key the signer used',
};

interface Loaded {
  readonly verifier: import('@sigstore/verify').Verifier;
  readonly policy: import('@sigstore/verify').VerificationPolicy | undefined;
  readonly key?: KeyObject;
  /** Whether a trusted root checks transparency-log entries (false: key verification without a root). */
  readonly logChecked: boolean;
  readonly toSignedEntity: typeof import('@sigstore/verify').toSignedEntity;
  readonly bundleFromJSON: typeof import('@sigstore/bundle').bundleFromJSON;
}

const TRUSTED_ROOT_LIMIT = 4 * 1024 * 1024;

async function loadVerifier(policy: VerifyPolicy): Promise<Loaded> {
  const { Verifier, toTrustMaterial, toSignedEntity } = await import('@sigstore/verify');
  const { bundleFromJSON } = await import('@sigstore/bundle');
  const { TrustedRoot } = await import('@sigstore/protobuf-specs');
  if (policy.kind === 'key') {
    const key = await loadPublicKey(policy.keyFile);
    const root = policy.trustedRootFile
      ? await readTrustedRoot(policy.trustedRootFile, TrustedRoot)
      : TrustedRoot.fromJSON({
          mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
          tlogs: [],
          certificateAuthorities: [],
          ctlogs: [],
          timestampAuthorities: [],
        });
    const material = toTrustMaterial(root, () => ({ publicKey: key, validFor: () => true }));
    // with a trusted root the signature must be in its Rekor (as cosign verify --key); without, none is checked
    const logged = policy.trustedRootFile ? 1 : 0;
    const verifier = new Verifier(material, {
      tlogThreshold: logged,
      ctlogThreshold: 0,
      timestampThreshold: logged,
    });
    return { verifier, policy: undefined, key, logChecked: logged === 1, toSignedEntity, bundleFromJSON };
  }
  const root = await readTrustedRoot(policy.trustedRootFile, TrustedRoot);
  const verifier = new Verifier(toTrustMaterial(root));
  return {
    verifier,
    policy: { subjectAlternativeName: policy.identity, extensions: { issuer: policy.issuer } },
    logChecked: true,
    toSignedEntity,
    bundleFromJSON,
  };
}

async function readTrustedRoot(
  file: string,
  TrustedRoot: typeof import('@sigstore/protobuf-specs').TrustedRoot,
): Promise<import('@sigstore/protobuf-specs').TrustedRoot> {
  try {
    const text = await readFile(file, 'utf8');
    if (text.length > TRUSTED_ROOT_LIMIT) throw new Error(`larger than ${TRUSTED_ROOT_LIMIT} bytes`);
    return TrustedRoot.fromJSON(JSON.parse(text));
  } catch (cause) {
    throw new WharfError(
      'SIGN_BAD_TRUSTED_ROOT',
      `--trusted-root ${file} cannot be read as a Sigstore trusted root`,
      {
        cause,
        hint: 'pass a trusted_root.json (cosign trusted-root create, or the Sigstore TUF repository)',
      },
    );
  }
}

interface BundleJson {
  readonly verificationMaterial?: { readonly publicKey?: { readonly hint?: string } };
  readonly dsseEnvelope?: { readonly payload?: string; readonly payloadType?: string };
}

/** Verifies one bundle's bytes; returns its statement's predicate type and signer, or throws Rejected. */
function verifyBundle(
  bytes: Uint8Array,
  digest: Digest,
  loaded: Loaded,
): { predicateType: string; signer: string } {
  let json: BundleJson;
  let bundle: ReturnType<Loaded['bundleFromJSON']>;
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8')) as BundleJson;
    bundle = loaded.bundleFromJSON(json);
  } catch (error) {
    throw new Rejected(
      'SIGN_TAMPERED',
      `the bundle is not a valid Sigstore bundle (${(error as Error).message})`,
    );
  }
  const envelope = json.dsseEnvelope;
  if (!envelope || envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE || typeof envelope.payload !== 'string') {
    throw new Rejected('SIGN_TAMPERED', 'the bundle holds no DSSE in-toto statement');
  }
  const content = bundle.verificationMaterial.content;
  if (loaded.key) {
    if (content.$case !== 'publicKey') {
      throw new Rejected('SIGN_WRONG_KEY', 'it was signed keylessly (a certificate), not with a key');
    }
    const hint = content.publicKey.hint;
    if (hint && hint !== keyHint(loaded.key)) {
      throw new Rejected('SIGN_WRONG_KEY', `it was signed by another key (keyid ${hint})`);
    }
  } else if (content.$case === 'publicKey') {
    throw new Rejected(
      'SIGN_IDENTITY_MISMATCH',
      'it was signed with a key, not a certificate for an identity',
    );
  }
  if (!loaded.logChecked && bundle.verificationMaterial.tlogEntries.length > 0) {
    throw new Rejected(
      'SIGN_UNTRUSTED',
      'it is recorded in a transparency log, which only --trusted-root (with that Rekor key) can check',
    );
  }
  let signer: ReturnType<import('@sigstore/verify').Verifier['verify']>;
  try {
    signer = loaded.verifier.verify(loaded.toSignedEntity(bundle), loaded.policy);
  } catch (error) {
    const code = (error as { code?: string }).code;
    const message = (error as Error).message;
    if (code === 'UNTRUSTED_SIGNER_ERROR') throw new Rejected('SIGN_IDENTITY_MISMATCH', message);
    if (code === 'SIGNATURE_ERROR') {
      throw loaded.key && content.$case === 'publicKey' && !content.publicKey.hint
        ? new Rejected('SIGN_WRONG_KEY', 'the signature does not verify with this key')
        : new Rejected(
            'SIGN_TAMPERED',
            'the signature does not match the signed content (altered after signing)',
          );
    }
    throw new Rejected('SIGN_UNTRUSTED', `${code ?? 'verification'}: ${message}`);
  }
  let statement: { subject?: { digest?: { sha256?: string } }[]; predicateType?: string };
  try {
    statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8'));
  } catch {
    throw new Rejected('SIGN_TAMPERED', 'the signed payload is not JSON');
  }
  const subjects = (statement.subject ?? []).map((s) => s.digest?.sha256);
  if (!subjects.includes(digestHex(digest))) {
    throw new Rejected(
      'SIGN_SUBJECT_MISMATCH',
      `it signs ${subjects.map((s) => `sha256:${s}`).join(', ') || 'no digest'}, not ${digest}`,
    );
  }
  const identity = signer.identity;
  return {
    predicateType: String(statement.predicateType),
    signer: identity
      ? `${identity.subjectAlternativeName ?? '?'} (${identity.extensions?.issuer ?? '?'})`
      : `key ${keyHint(signer.key)}`,
  };
}

/**
 * Verifies the image `reference` names: at least one image signature must verify under `options.policy`
 * and bind the exact manifest digest; verified attestations are listed. Throws a WharfError naming what
 * failed (`SIGN_NO_SIGNATURE`, `SIGN_WRONG_KEY`, `SIGN_SUBJECT_MISMATCH`, `SIGN_TAMPERED`,
 * `SIGN_IDENTITY_MISMATCH`, `SIGN_UNTRUSTED`).
 *
 * @example
 * const { digest, attestations } = await verifyImage('registry.example.com/app:1.0', {
 *   policy: { kind: 'key', keyFile: 'cosign.pub' },
 * });
 */
export async function verifyImage(reference: string, options: VerifyOptions): Promise<VerifyResult> {
  const loaded = await loadVerifier(options.policy);
  const source = await openReferrerSource(reference, options.registry ?? {});
  try {
    const digest = source.subject.digest;
    const bundles = (await source.referrers(BUNDLE_MEDIA_TYPE)).slice(-BUNDLE_LIMIT);
    const signatures: VerifiedStatement[] = [];
    const attestations: VerifiedStatement[] = [];
    const rejected: { artifact: Digest; reason: string; code: FailureCode; predicateType?: string }[] = [];
    for (const descriptor of bundles) {
      const predicateType = descriptor.annotations?.['dev.sigstore.bundle.predicateType'];
      try {
        let blob: Uint8Array | undefined;
        try {
          [blob] = (await source.files(descriptor)).map((b) => b.bytes);
        } catch (error) {
          // a blob that does not hash to its digest: the registry's, or a layout's (verified as read)
          const code = error instanceof WharfError ? error.code : undefined;
          if (code === 'SIGN_DIGEST_MISMATCH' || code === 'IMAGE_DIGEST_MISMATCH') {
            throw new Rejected('SIGN_TAMPERED', (error as Error).message);
          }
          throw error;
        }
        if (!blob) throw new Rejected('SIGN_TAMPERED', 'the artifact holds no bundle');
        const verified = verifyBundle(blob, digest, loaded);
        const entry = {
          predicateType: verified.predicateType,
          artifact: descriptor.digest,
          signer: verified.signer,
        };
        (verified.predicateType === COSIGN_SIGN_PREDICATE ? signatures : attestations).push(entry);
      } catch (error) {
        if (!(error instanceof Rejected)) throw error;
        rejected.push({
          artifact: descriptor.digest,
          reason: error.message,
          code: error.code,
          ...(predicateType ? { predicateType } : {}),
        });
      }
    }
    if (signatures.length === 0) {
      if (bundles.length === 0) {
        throw new WharfError('SIGN_NO_SIGNATURE', `no signature is attached to ${reference} (${digest})`, {
          hint: 'sign it with wharf sign REF --key cosign.key (or push with --sign key=cosign.key)',
        });
      }
      // an image signature's failure says more than an attestation's
      const ranked = [...rejected].sort(
        (a, b) =>
          Number(b.predicateType === COSIGN_SIGN_PREDICATE) -
            Number(a.predicateType === COSIGN_SIGN_PREDICATE) ||
          FAILURE_ORDER.indexOf(a.code) - FAILURE_ORDER.indexOf(b.code),
      );
      const worst = ranked[0];
      if (!worst) {
        throw new WharfError(
          'SIGN_NO_SIGNATURE',
          `no image signature is attached to ${reference} (${digest}), only attestations`,
          {
            hint: 'sign the image with wharf sign REF',
          },
        );
      }
      throw new WharfError(worst.code, `${reference} (${digest}) failed verification: ${worst.reason}`, {
        hint: HINTS[worst.code],
      });
    }
    return {
      digest,
      signatures,
      attestations,
      rejected: rejected.map(({ artifact, reason }) => ({ artifact, reason })),
    };
  } finally {
    await source.close();
  }
}
