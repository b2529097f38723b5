/**
 * Sigstore signing: in-toto statements wrapped in DSSE envelopes and packed as Sigstore bundles (v0.3),
 * signed with a PEM ECDSA P-256 key or keylessly (a Fulcio certificate for the ambient OIDC identity plus
 * a Rekor entry). `@sigstore/sign` does the packing and talks to Fulcio and Rekor; it is loaded only when
 * something is signed, so other commands do not pay for it.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  sign as cryptoSign,
  generateKeyPairSync,
  type KeyObject,
  scryptSync,
} from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { WharfError } from '../errors.js';
import { type Digest, digestHex } from '../oci/index.js';

/** The media type (and OCI artifactType) of a Sigstore bundle v0.3, as cosign attaches it. */
export const BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
/** The predicate type of an image signature in cosign's bundle format (an empty predicate). */
export const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';
/** in-toto Statement v1 and its DSSE payload type. */
export const IN_TOTO_STATEMENT_V1 = 'https://in-toto.io/Statement/v1';
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

/** How to sign: with a private key file, or keylessly through Fulcio and Rekor. */
export type SigningOptions =
  | {
      readonly kind: 'key';
      /**
       * PEM, P-256: PKCS#8 (`BEGIN PRIVATE KEY`, optionally encrypted), SEC1 (`BEGIN EC PRIVATE KEY`), or
       * cosign's encrypted format (`BEGIN ENCRYPTED SIGSTORE PRIVATE KEY`, scrypt + NaCl secretbox).
       */
      readonly keyFile: string;
      /** For an encrypted key; the CLI passes `COSIGN_PASSWORD`. */
      readonly passphrase?: string | undefined;
      /**
       * `keyFile` already read and decrypted ({@link parsePrivateKey}: the CLI checks the key before any
       * work), so it is not read again — for a cosign key not derived again: scrypt N=32768, r=8 costs
       * 0.1–0.7 s of the main thread each time.
       */
      readonly privateKey?: KeyObject | undefined;
      /** Also record each signature in this Rekor (as `cosign sign --key` does by default); none by default. */
      readonly rekorUrl?: string | undefined;
    }
  | {
      readonly kind: 'keyless';
      /** Default `https://fulcio.sigstore.dev`. */
      readonly fulcioUrl?: string | undefined;
      /** Default `https://rekor.sigstore.dev`. */
      readonly rekorUrl?: string | undefined;
      /** An RFC 3161 timestamp authority to countersign too (optional; none by default). */
      readonly tsaUrl?: string | undefined;
      /** An OIDC token; default: the CI's (GitHub Actions' request URL/token, or `SIGSTORE_ID_TOKEN`). */
      readonly identityToken?: string | undefined;
    };

/** An in-toto Statement v1 about one or more image digests. */
export interface Statement {
  readonly _type: string;
  readonly subject: readonly { readonly name: string; readonly digest: Readonly<Record<string, string>> }[];
  readonly predicateType: string;
  readonly predicate: unknown;
}

/**
 * A statement whose subject is `digest` of repository `name`.
 *
 * @example
 * statementFor('registry.example.com/app', 'sha256:…', COSIGN_SIGN_PREDICATE, {});
 */
export function statementFor(
  name: string,
  digest: Digest,
  predicateType: string,
  predicate: unknown,
): Statement {
  return {
    _type: IN_TOTO_STATEMENT_V1,
    subject: [{ name, digest: { sha256: digestHex(digest) } }],
    predicateType,
    predicate,
  };
}

/**
 * The keyid cosign and sigstore-js put in a bundle's `publicKey.hint`: sha256 of the DER public key.
 *
 * @example
 * keyHint(await loadPublicKey('cosign.pub')); // 'q2kU…=' (base64)
 */
export function keyHint(key: KeyObject): string {
  return createHash('sha256')
    .update(key.export({ format: 'der', type: 'spki' }))
    .digest('base64');
}

const KEY_FILE_LIMIT = 64 * 1024;

async function readKeyFile(path: string, what: string): Promise<string> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (cause) {
    throw new WharfError('SIGN_BAD_KEY', `${what} ${path} cannot be read`, {
      cause,
      hint: 'pass the path of a PEM file (cosign generate-key-pair or openssl ecparam -genkey writes one)',
    });
  }
  if (size > KEY_FILE_LIMIT) {
    throw new WharfError('SIGN_BAD_KEY', `${what} ${path} is ${size} bytes, not a PEM key`, {
      hint: 'pass the PEM file of an ECDSA P-256 key',
    });
  }
  return readFile(path, 'utf8');
}

function checkP256(key: KeyObject, what: string): void {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    const kind = key.asymmetricKeyDetails?.namedCurve ?? key.asymmetricKeyType ?? 'unknown';
    throw new WharfError('SIGN_BAD_KEY', `${what} is a ${kind} key; wharf signs with ECDSA P-256`, {
      hint: 'make one with: openssl ecparam -name prime256v1 -genkey -noout -out cosign.key',
    });
  }
}

/**
 * Loads a PEM private key (PKCS#8, encrypted PKCS#8, SEC1 or cosign's encrypted format) and checks it is
 * ECDSA P-256.
 *
 * @example
 * const key = await loadPrivateKey('cosign.key', process.env.COSIGN_PASSWORD);
 */
export async function loadPrivateKey(path: string, passphrase?: string): Promise<KeyObject> {
  return parsePrivateKey(await readKeyFile(path, 'signing key'), path, passphrase);
}

/** cosign's own key file: `ENCRYPTED SIGSTORE PRIVATE KEY` (cosign ≥ 2) or `ENCRYPTED COSIGN PRIVATE KEY`. */
const COSIGN_KEY =
  /-----BEGIN ENCRYPTED (SIGSTORE|COSIGN) PRIVATE KEY-----([A-Za-z0-9+/=\s]*)-----END ENCRYPTED \1 PRIVATE KEY-----/;
/** scrypt costs accepted from a key file: cosign writes N=32768, r=8, p=1; a hostile file must not ask for GiBs. */
const SCRYPT_MAX = { N: 1 << 20, r: 32, p: 16 };

/** The JSON envelope inside cosign's PEM block. */
interface CosignEnvelope {
  readonly kdf?: { name?: unknown; params?: { N?: unknown; r?: unknown; p?: unknown }; salt?: unknown };
  readonly cipher?: { name?: unknown; nonce?: unknown };
  readonly ciphertext?: unknown;
}

/**
 * Decrypts cosign's encrypted key format: a PEM block holding JSON — scrypt (N, r, p, salt) derives a
 * 32-byte key from the password, and NaCl secretbox (XSalsa20-Poly1305, 24-byte nonce) seals the PKCS#8
 * DER of the private key (cosign's `generate-key-pair` and `import-key-pair` write it). Node has scrypt;
 * secretbox comes from `tweetnacl`, loaded only here. No password (COSIGN_PASSWORD unset) tries the empty
 * one, as `cosign generate-key-pair` makes with an empty COSIGN_PASSWORD.
 */
function decryptCosignKey(pem: string, path: string, passphrase: string | undefined): KeyObject {
  const bad = (why: string, cause?: unknown) =>
    new WharfError('SIGN_BAD_KEY', `signing key ${path} is not a valid cosign key: ${why}`, {
      ...(cause === undefined ? {} : { cause }),
      hint: 'make one with cosign generate-key-pair, or pass a PEM PKCS#8 ECDSA P-256 key',
    });
  const body = (COSIGN_KEY.exec(pem)?.[2] ?? '').replace(/\s+/g, '');
  let envelope: CosignEnvelope;
  try {
    envelope = JSON.parse(Buffer.from(body, 'base64').toString('utf8')) as CosignEnvelope;
  } catch (cause) {
    throw bad('its PEM body is not JSON', cause);
  }
  const { kdf, cipher } = envelope;
  if (kdf?.name !== 'scrypt' || cipher?.name !== 'nacl/secretbox') {
    throw bad(
      `unsupported encryption ${String(kdf?.name)} / ${String(cipher?.name)} (scrypt / nacl/secretbox expected)`,
    );
  }
  const { N, r, p } = kdf.params ?? {};
  const valid = (v: unknown, max: number): v is number =>
    Number.isSafeInteger(v) && (v as number) >= 1 && (v as number) <= max;
  if (
    !valid(N, SCRYPT_MAX.N) ||
    (N & (N - 1)) !== 0 ||
    N < 2 ||
    !valid(r, SCRYPT_MAX.r) ||
    !valid(p, SCRYPT_MAX.p)
  ) {
    throw bad(`scrypt parameters N=${String(N)} r=${String(r)} p=${String(p)} are out of range`);
  }
  const bytes = (v: unknown) => (typeof v === 'string' ? Buffer.from(v, 'base64') : Buffer.alloc(0));
  const salt = bytes(kdf.salt);
  const nonce = bytes(cipher.nonce);
  const sealed = bytes(envelope.ciphertext);
  if (salt.length === 0 || nonce.length !== 24 || sealed.length <= 16) {
    throw bad('the salt, nonce (24 bytes) or ciphertext is missing');
  }
  const key = scryptSync(passphrase ?? '', salt, 32, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 });
  const { secretbox } = loadTweetnacl();
  const opened = secretbox.open(new Uint8Array(sealed), new Uint8Array(nonce), new Uint8Array(key));
  if (!opened) {
    throw new WharfError(
      'SIGN_BAD_KEY',
      `signing key ${path} is encrypted and ${passphrase === undefined ? 'no' : 'the wrong'} password was given`,
      { hint: 'set COSIGN_PASSWORD to the password the key was made with (cosign generate-key-pair)' },
    );
  }
  try {
    return createPrivateKey({ key: Buffer.from(opened), format: 'der', type: 'pkcs8' });
  } catch (cause) {
    throw bad('the decrypted key is not PKCS#8', cause);
  }
}

/** `tweetnacl`, required on first use (a CommonJS package; parsePrivateKey is synchronous). */
function loadTweetnacl(): typeof import('tweetnacl') {
  return createRequire(import.meta.url)('tweetnacl') as typeof import('tweetnacl');
}

/**
 * Parses PEM text read from `path` as an ECDSA P-256 private key (synchronous, so a CLI can check a key
 * while it checks its flags, before any work).
 *
 * @example
 * parsePrivateKey(readFileSync('cosign.key', 'utf8'), 'cosign.key', process.env.COSIGN_PASSWORD);
 */
export function parsePrivateKey(pem: string, path: string, passphrase?: string): KeyObject {
  if (COSIGN_KEY.test(pem)) {
    const key = decryptCosignKey(pem, path, passphrase);
    checkP256(key, `signing key ${path}`);
    return key;
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem', ...(passphrase !== undefined ? { passphrase } : {}) });
  } catch (cause) {
    const code = (cause as { code?: string }).code;
    const encrypted = code === 'ERR_MISSING_PASSPHRASE' || /ENCRYPTED/.test(pem);
    throw new WharfError(
      'SIGN_BAD_KEY',
      encrypted
        ? `signing key ${path} is encrypted and ${passphrase === undefined ? 'no' : 'the wrong'} password was given`
        : `signing key ${path} is not a PEM private key`,
      {
        cause,
        hint: encrypted
          ? 'set COSIGN_PASSWORD to the key password'
          : 'pass a PEM PKCS#8 (BEGIN PRIVATE KEY) or SEC1 (BEGIN EC PRIVATE KEY) ECDSA P-256 key',
      },
    );
  }
  checkP256(key, `signing key ${path}`);
  return key;
}

/**
 * Loads a PEM public key (SPKI), or the public key of a PEM private key, and checks it is P-256.
 *
 * @example
 * const pub = await loadPublicKey('cosign.pub');
 */
export async function loadPublicKey(path: string): Promise<KeyObject> {
  const pem = await readKeyFile(path, 'public key');
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch (cause) {
    throw new WharfError('SIGN_BAD_KEY', `public key ${path} is not a PEM public key`, {
      cause,
      hint: 'pass the PEM public key (BEGIN PUBLIC KEY) that pairs with the signing key, e.g. cosign.pub',
    });
  }
  checkP256(key, `public key ${path}`);
  return key;
}

/** Signs statements with one signer (one certificate request per statement when keyless). */
export interface StatementSigner {
  /** The DSSE bundle (v0.3, as JSON) of `statement`. */
  sign(statement: Statement): Promise<unknown>;
}

/**
 * A signer for `options`: the key is read (and checked) now, so a bad key fails before anything is pushed.
 *
 * @example
 * const signer = await statementSigner({ kind: 'key', keyFile: 'cosign.key' });
 * const bundle = await signer.sign(statementFor('registry.example.com/app', digest, COSIGN_SIGN_PREDICATE, {}));
 */
export async function statementSigner(options: SigningOptions): Promise<StatementSigner> {
  return options.kind === 'key' ? keySigner(options) : keylessSigner(options);
}

/**
 * With a key, the DSSE signature is made here (ECDSA-SHA256 over PAE) and packed with `@sigstore/bundle`:
 * `@sigstore/sign` and its HTTP stack (~0.8 s to load) are only needed to reach Fulcio and Rekor.
 */
async function keySigner(options: Extract<SigningOptions, { kind: 'key' }>): Promise<StatementSigner> {
  const privateKey = options.privateKey ?? (await loadPrivateKey(options.keyFile, options.passphrase));
  checkP256(privateKey, `signing key ${options.keyFile}`);
  const hint = keyHint(createPublicKey(privateKey));
  if (options.rekorUrl) return rekorKeySigner(privateKey, hint, options.rekorUrl);
  // required, not imported: a CommonJS package costs ~40 % more through the ESM loader (its exports are
  // found by parsing its source), and this runs on the main thread while the push does
  const { bundleToJSON, toDSSEBundle } = createRequire(import.meta.url)(
    '@sigstore/bundle',
  ) as typeof import('@sigstore/bundle');
  return {
    async sign(statement) {
      const artifact = Buffer.from(JSON.stringify(statement));
      const signature = cryptoSign('sha256', preAuthEncoding(IN_TOTO_PAYLOAD_TYPE, artifact), privateKey);
      return bundleToJSON(
        toDSSEBundle({ artifact, artifactType: IN_TOTO_PAYLOAD_TYPE, signature, keyHint: hint }),
      );
    },
  };
}

/** A key signature recorded in Rekor: `@sigstore/sign` packs it with the log entry. */
async function rekorKeySigner(
  privateKey: KeyObject,
  hint: string,
  rekorUrl: string,
): Promise<StatementSigner> {
  const { DSSEBundleBuilder, RekorWitness } = await import('@sigstore/sign');
  const { bundleToJSON } = await import('@sigstore/bundle');
  const publicKey = createPublicKey(privateKey).export({ format: 'pem', type: 'spki' }).toString();
  const builder = new DSSEBundleBuilder({
    signer: {
      sign: async (data: Buffer) => ({
        signature: cryptoSign('sha256', data, privateKey),
        key: { $case: 'publicKey', publicKey, hint },
      }),
    },
    witnesses: [
      new RekorWitness({
        rekorBaseURL: rekorUrl,
        entryType: 'intoto',
        fetchOnConflict: true,
        timeout: 30_000,
      }),
    ],
  });
  return {
    async sign(statement) {
      try {
        return bundleToJSON(
          await builder.create({ data: Buffer.from(JSON.stringify(statement)), type: IN_TOTO_PAYLOAD_TYPE }),
        );
      } catch (error) {
        throw new WharfError(
          'SIGN_FAILED',
          `recording the signature in Rekor failed: ${(error as Error).message}`,
          {
            cause: error,
            hint: `check that Rekor (${rekorUrl}) is reachable`,
          },
        );
      }
    },
  };
}

/** Keyless: a Fulcio certificate for the OIDC identity (one per statement), each envelope logged in Rekor. */
async function keylessSigner(
  options: Extract<SigningOptions, { kind: 'keyless' }>,
): Promise<StatementSigner> {
  const { DSSEBundleBuilder, FulcioSigner, CIContextProvider, RekorWitness, TSAWitness } = await import(
    '@sigstore/sign'
  );
  const { bundleToJSON } = await import('@sigstore/bundle');
  const token = options.identityToken;
  const ci = new CIContextProvider('sigstore');
  // One ephemeral key and one Fulcio certificate for every statement of this run, as cosign does: the
  // first signature asks Fulcio (proving possession of the key), the rest reuse the certificate.
  const ephemeral = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicKeyPem = ephemeral.publicKey.export({ format: 'pem', type: 'spki' }).toString();
  const keyHolder = {
    sign: async (data: Buffer) => ({
      signature: cryptoSign('sha256', data, ephemeral.privateKey),
      key: { $case: 'publicKey' as const, publicKey: publicKeyPem },
    }),
  };
  const fulcio = new FulcioSigner({
    keyHolder,
    identityProvider: {
      getToken: async () => {
        if (token) return token;
        try {
          return await ci.getToken();
        } catch (cause) {
          throw new WharfError('SIGN_NO_IDENTITY', 'keyless signing found no OIDC identity token', {
            cause,
            hint: 'run in GitHub Actions with `permissions: id-token: write`, set SIGSTORE_ID_TOKEN, or sign with --sign key=FILE',
          });
        }
      },
    },
    ...(options.fulcioUrl ? { fulcioBaseURL: options.fulcioUrl } : {}),
    timeout: 30_000,
  });
  let certificate: Promise<string> | undefined;
  const signer = {
    sign: async (data: Buffer) => {
      if (certificate === undefined) {
        const first = fulcio.sign(data);
        certificate = first.then((signature) => (signature.key as { certificate: string }).certificate);
        certificate.catch(() => {});
        return first;
      }
      return {
        signature: cryptoSign('sha256', data, ephemeral.privateKey),
        key: { $case: 'x509Certificate' as const, certificate: await certificate },
      };
    },
  };
  const witness = new RekorWitness({
    ...(options.rekorUrl ? { rekorBaseURL: options.rekorUrl } : {}),
    // intoto v0.0.2 (what cosign attest records): every Rekor canonicalises it the same way, while a
    // `dsse` entry's logged body differs from the proposed one (and @sigstore/mock logs it as proposed)
    entryType: 'intoto',
    fetchOnConflict: true,
    timeout: 30_000,
  });
  const witnesses = options.tsaUrl
    ? [witness, new TSAWitness({ tsaBaseURL: options.tsaUrl, timeout: 30_000 })]
    : [witness];
  const builder = new DSSEBundleBuilder({ signer, witnesses, certificateChain: false });
  return {
    async sign(statement) {
      const data = Buffer.from(JSON.stringify(statement));
      try {
        return bundleToJSON(await builder.create({ data, type: IN_TOTO_PAYLOAD_TYPE }));
      } catch (error) {
        if (error instanceof WharfError) throw error;
        const cause = (error as { cause?: unknown }).cause;
        if (cause instanceof WharfError) throw cause;
        // sigstore-js puts the token itself in some messages: never print one
        const message = (error as Error).message.replace(/eyJ[\w-]*\.[\w-]*\.[\w-]*/g, '<token>');
        throw new WharfError('SIGN_FAILED', `keyless signing failed: ${message}`, {
          cause: error,
          hint: `check that Fulcio (${options.fulcioUrl ?? 'https://fulcio.sigstore.dev'}) and Rekor (${options.rekorUrl ?? 'https://rekor.sigstore.dev'})${options.tsaUrl ? ` and the TSA (${options.tsaUrl})` : ''} are reachable and accept the token`,
        });
      }
    },
  };
}

/**
 * DSSE's pre-authentication encoding: the exact bytes a DSSE signature is over.
 *
 * @example
 * preAuthEncoding('application/vnd.in-toto+json', payload); // "DSSEv1 28 application/vnd.in-toto+json 412 {…}"
 */
export function preAuthEncoding(payloadType: string, payload: Uint8Array): Buffer {
  const type = Buffer.from(payloadType);
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.byteLength} `),
    type,
    Buffer.from(` ${payload.byteLength} `),
    payload,
  ]);
}
