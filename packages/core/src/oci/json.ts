/**
 * The JSON encoding wharf uses for every manifest, index and config it writes.
 *
 * A document's digest is the sha256 of its exact bytes, so the bytes must be a function of the value.
 * The choice, and why:
 * - **Compact** `JSON.stringify` output: no indentation, no trailing newline. (Docker, BuildKit and
 *   containerd also write compact JSON; a newline would only change digests.)
 * - **Key order is construction order.** wharf builds documents with object literals whose keys are
 *   written in the spec's order (`schemaVersion, mediaType, config, layers, annotations`), so the
 *   output is stable without sorting, and reads like the spec's examples. Maps that come from user
 *   input (labels, annotations, env-derived objects) must be built in a deterministic order by the
 *   caller — {@link sortedRecord} helps.
 * - `undefined` properties are dropped (so optional fields are simply absent); non-finite numbers,
 *   bigints, functions and symbols are rejected instead of being silently turned into `null`.
 * - Strings are escaped as `JSON.stringify` does (Go additionally escapes `<`, `>`, `&`; that only
 *   matters when re-encoding Go-written documents, which wharf never does: it keeps their raw bytes).
 *
 * Documents read from elsewhere are never re-encoded; their raw bytes are kept with their digest.
 */
import { type Digest, sha256Digest } from './digest.js';
import { OciError } from './errors.js';
import { EMPTY_JSON_DIGEST, MediaType } from './media-types.js';
import type { Annotations, Descriptor, Platform } from './types.js';

/**
 * The image-spec's "empty descriptor": content `{}`, for a config or layer that has no content
 * (artifacts, and the one layer a layerless manifest must still list).
 */
export const EMPTY_DESCRIPTOR: Descriptor = {
  mediaType: MediaType.ociEmpty,
  digest: EMPTY_JSON_DIGEST,
  size: 2,
};

function walk(value: unknown, path: string): void {
  if (typeof value === 'number' && !Number.isFinite(value)) {
    throw new OciError('OCI_INVALID_JSON', `cannot encode ${value} at ${path || '/'} as JSON`, {
      hint: 'sizes, durations and counts must be finite numbers',
    });
  }
  if (typeof value === 'bigint' || typeof value === 'function' || typeof value === 'symbol') {
    throw new OciError('OCI_INVALID_JSON', `cannot encode a ${typeof value} at ${path || '/'} as JSON`, {
      hint: 'documents must be plain JSON data (strings, finite numbers, booleans, null, arrays, objects)',
    });
  }
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      walk(item, `${path}/${i}`);
    });
    return;
  }
  for (const [key, item] of Object.entries(value)) {
    if (item !== undefined) walk(item, `${path}/${key}`);
  }
}

/** The canonical text of `value` (see the module doc). */
export function canonicalJson(value: unknown): string {
  walk(value, '');
  const text = JSON.stringify(value);
  if (text === undefined) {
    throw new OciError('OCI_INVALID_JSON', 'cannot encode undefined as a JSON document', {
      hint: 'pass an object',
    });
  }
  return text;
}

/** The canonical UTF-8 bytes of `value` (see the module doc). */
export function encodeJson(value: unknown): Uint8Array {
  return Buffer.from(canonicalJson(value), 'utf8');
}

/** A copy of `record` with keys in code-point order, for maps built from unordered input. */
export function sortedRecord<V>(record: Readonly<Record<string, V>>): Record<string, V> {
  const out: Record<string, V> = {};
  for (const key of Object.keys(record).sort()) out[key] = record[key] as V;
  return out;
}

export interface DescriptorOptions {
  readonly annotations?: Annotations;
  readonly platform?: Platform;
  readonly artifactType?: string;
  readonly urls?: readonly string[];
}

/** A descriptor for `bytes` (field order: mediaType, digest, size, then the options). */
export function descriptorOf(
  mediaType: string,
  bytes: Uint8Array,
  options: DescriptorOptions = {},
): Descriptor {
  const digest: Digest = sha256Digest(bytes);
  return {
    mediaType,
    digest,
    size: bytes.byteLength,
    ...(options.urls ? { urls: options.urls } : {}),
    ...(options.annotations ? { annotations: options.annotations } : {}),
    ...(options.platform ? { platform: options.platform } : {}),
    ...(options.artifactType ? { artifactType: options.artifactType } : {}),
  };
}

/** A document encoded canonically, with the descriptor that points at those bytes. */
export interface EncodedDocument {
  readonly bytes: Uint8Array;
  readonly descriptor: Descriptor;
}

/** Encodes `value` canonically and describes the result. */
export function encodeDocument(
  mediaType: string,
  value: unknown,
  options: DescriptorOptions = {},
): EncodedDocument {
  const bytes = encodeJson(value);
  return { bytes, descriptor: descriptorOf(mediaType, bytes, options) };
}
