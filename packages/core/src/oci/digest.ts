/**
 * Content digests (`<algorithm>:<encoded>`), as the OCI image spec and go-digest define them.
 *
 * wharf computes and accepts the two registered algorithms only: `sha256` (64 lowercase hex
 * characters) and `sha512` (128). Anything else is rejected with a message that names the input.
 * A {@link Digest} value is a branded string: once you hold one, it has been validated.
 */
import { createHash, type Hash } from 'node:crypto';
import { OciError } from './errors.js';

export type DigestAlgorithm = 'sha256' | 'sha512';

declare const digestBrand: unique symbol;
/** A validated `sha256:<64 hex>` or `sha512:<128 hex>` string. Make one with {@link parseDigest}. */
export type Digest = string & { readonly [digestBrand]: true };

const HEX_LENGTH: Readonly<Record<DigestAlgorithm, number>> = { sha256: 64, sha512: 128 };
/** go-digest's grammar for any algorithm: `algorithm := component ([+._-] component)*`. */
const ANY_DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

function isAlgorithm(value: string): value is DigestAlgorithm {
  return value === 'sha256' || value === 'sha512';
}

/** `input` quoted for a message, cut short: a hostile document can hold a digest of any length. */
function quote(input: string): string {
  return JSON.stringify(input.length > 140 ? `${input.slice(0, 140)}…` : input);
}

/** Why `input` is not a usable digest, or `undefined` when it is one. */
function digestProblem(
  input: unknown,
):
  | { code: 'OCI_INVALID_DIGEST' | 'OCI_UNSUPPORTED_DIGEST_ALGORITHM'; message: string; hint: string }
  | undefined {
  if (typeof input !== 'string') {
    return {
      code: 'OCI_INVALID_DIGEST',
      message: `invalid digest ${input === undefined ? 'undefined' : quote(JSON.stringify(input) ?? String(input))}: expected a string "<algorithm>:<hex>"`,
      hint: 'write it as sha256:<64 lowercase hex characters>',
    };
  }
  const colon = input.indexOf(':');
  if (colon <= 0) {
    return {
      code: 'OCI_INVALID_DIGEST',
      message: `invalid digest ${quote(input)}: expected "<algorithm>:<hex>"`,
      hint: 'write it as sha256:<64 lowercase hex characters>',
    };
  }
  const algorithm = input.slice(0, colon);
  const encoded = input.slice(colon + 1);
  if (!isAlgorithm(algorithm)) {
    return ANY_DIGEST.test(input)
      ? {
          code: 'OCI_UNSUPPORTED_DIGEST_ALGORITHM',
          message: `unsupported digest algorithm "${algorithm}" in ${quote(input)}`,
          hint: 'wharf supports sha256 and sha512 digests',
        }
      : {
          code: 'OCI_INVALID_DIGEST',
          message: `invalid digest ${quote(input)}: the algorithm is malformed`,
          hint: 'write it as sha256:<64 lowercase hex characters>',
        };
  }
  const length = HEX_LENGTH[algorithm];
  if (encoded.length !== length || !/^[0-9a-f]*$/.test(encoded)) {
    const lower = encoded.toLowerCase();
    const hint =
      lower !== encoded && /^[0-9a-f]+$/.test(lower) && lower.length === length
        ? `hex must be lowercase: ${algorithm}:${lower}`
        : `a ${algorithm} digest is "${algorithm}:" followed by exactly ${length} lowercase hex characters`;
    return {
      code: 'OCI_INVALID_DIGEST',
      message: `invalid ${algorithm} digest ${quote(input)}: expected ${length} lowercase hex characters, got ${encoded.length} characters`,
      hint,
    };
  }
  return undefined;
}

/**
 * Validates `input` and returns it as a {@link Digest}; throws `OCI_INVALID_DIGEST` or
 * `OCI_UNSUPPORTED_DIGEST_ALGORITHM`. Call it on every digest read from outside (registry manifests,
 * layouts, archives, configs) before it reaches a URL, a path or a file name: `sha256:../../etc/passwd`
 * and `sha256:<64 hex>/../x` are refused here. `what` names where the digest came from in the message
 * (`layer 2 of manifest latest from ghcr.io/org/app`).
 */
export function parseDigest(input: unknown, what?: string): Digest {
  const problem = digestProblem(input);
  if (problem) {
    throw new OciError(problem.code, what ? `${what}: ${problem.message}` : problem.message, {
      hint: problem.hint,
    });
  }
  return input as Digest;
}

/** True when `value` is a string {@link parseDigest} would accept. */
export function isDigest(value: unknown): value is Digest {
  return typeof value === 'string' && digestProblem(value) === undefined;
}

/**
 * True when `value` matches go-digest's general grammar (any algorithm, e.g. `sha256+b64u:…`) and, for
 * the registered algorithms sha256 and sha512, has the exact hex length. This is what the OCI reference
 * validator accepts in a descriptor; wharf itself only *produces* {@link Digest}s.
 */
export function isWellFormedDigest(value: string): boolean {
  if (!ANY_DIGEST.test(value)) return false;
  const algorithm = value.slice(0, value.indexOf(':'));
  return !isAlgorithm(algorithm) || digestProblem(value) === undefined;
}

export function digestAlgorithm(digest: Digest): DigestAlgorithm {
  return digest.slice(0, digest.indexOf(':')) as DigestAlgorithm;
}

/** The encoded part (the hex after the colon). */
export function digestHex(digest: Digest): string {
  return digest.slice(digest.indexOf(':') + 1);
}

type Bytes = Uint8Array | string;

/** The digest of `bytes` (strings are hashed as UTF-8). */
export function digestOf(bytes: Bytes, algorithm: DigestAlgorithm = 'sha256'): Digest {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}` as Digest;
}

/** `sha256:<hex>` of `bytes` (strings are hashed as UTF-8). */
export function sha256Digest(bytes: Bytes): Digest {
  return digestOf(bytes, 'sha256');
}

/** An incremental hash: feed chunks with `update`, read the result once with `digest()`. */
export interface Digester {
  readonly algorithm: DigestAlgorithm;
  /** Bytes seen so far. */
  readonly size: number;
  update(chunk: Bytes): this;
  /** Finishes the hash; later calls return the same value, and `update` after it throws. */
  digest(): Digest;
}

class NodeDigester implements Digester {
  readonly algorithm: DigestAlgorithm;
  #hash: Hash;
  #size = 0;
  #done: Digest | undefined;

  constructor(algorithm: DigestAlgorithm) {
    this.algorithm = algorithm;
    this.#hash = createHash(algorithm);
  }

  get size(): number {
    return this.#size;
  }

  update(chunk: Bytes): this {
    if (this.#done !== undefined) throw new Error('Digester.update() called after digest()');
    this.#size += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
    this.#hash.update(chunk);
    return this;
  }

  digest(): Digest {
    if (this.#done === undefined) {
      this.#done = `${this.algorithm}:${this.#hash.digest('hex')}` as Digest;
    }
    return this.#done;
  }
}

/** A streaming digester (one pass, constant memory). */
export function createDigester(algorithm: DigestAlgorithm = 'sha256'): Digester {
  return new NodeDigester(algorithm);
}

/** Throws `OCI_DIGEST_MISMATCH` unless `bytes` hash to `expected` (in `expected`'s algorithm). */
export function verify(bytes: Bytes, expected: Digest): void {
  const actual = digestOf(bytes, digestAlgorithm(expected));
  if (actual !== expected) {
    throw new OciError(
      'OCI_DIGEST_MISMATCH',
      `content does not match its digest: expected ${expected}, got ${actual}`,
      {
        hint: 'the content was corrupted or changed; fetch it again from its source',
      },
    );
  }
}
