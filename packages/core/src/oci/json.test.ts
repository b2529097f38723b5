import { describe, expect, it } from 'vitest';
import { sha256Digest } from './digest.js';
import { OciError } from './errors.js';
import {
  canonicalJson,
  descriptorOf,
  EMPTY_DESCRIPTOR,
  encodeDocument,
  encodeJson,
  sortedRecord,
} from './json.js';
import { MediaType } from './media-types.js';

describe('canonical JSON', () => {
  it('is compact, keeps construction order, drops undefined and has no trailing newline', () => {
    const text = canonicalJson({
      schemaVersion: 2,
      mediaType: 'm',
      skipped: undefined,
      layers: [1, 'x'],
      z: { b: 1, a: 2 },
    });
    expect(text).toBe('{"schemaVersion":2,"mediaType":"m","layers":[1,"x"],"z":{"b":1,"a":2}}');
    expect(Buffer.from(encodeJson({ a: 'é' })).toString('utf8')).toBe('{"a":"é"}');
  });

  it('gives the same bytes and digest for the same input', () => {
    const build = () => ({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } });
    expect(sha256Digest(encodeJson(build()))).toBe(sha256Digest(encodeJson(build())));
  });

  it.each([
    [{ size: Number.NaN }, /NaN at \/size/],
    [{ a: [1, Number.POSITIVE_INFINITY] }, /Infinity at \/a\/1/],
    [{ n: 1n }, /bigint at \/n/],
    [{ f: () => 1 }, /function at \/f/],
    [undefined, /undefined/],
  ])('rejects %o', (value, message) => {
    expect(() => canonicalJson(value)).toThrow(OciError);
    expect(() => canonicalJson(value)).toThrow(message);
  });

  it('sortedRecord orders keys by code point', () => {
    expect(Object.keys(sortedRecord({ b: 1, B: 2, a: 3 }))).toEqual(['B', 'a', 'b']);
  });
});

describe('descriptors', () => {
  it('descriptorOf describes bytes in spec field order', () => {
    const bytes = encodeJson({});
    expect(descriptorOf(MediaType.ociEmpty, bytes)).toEqual(EMPTY_DESCRIPTOR);
    const d = descriptorOf(MediaType.ociManifest, bytes, {
      platform: { architecture: 'amd64', os: 'linux' },
      annotations: { a: 'b' },
    });
    expect(Object.keys(d)).toEqual(['mediaType', 'digest', 'size', 'annotations', 'platform']);
  });

  it('encodeDocument returns bytes and a matching descriptor', () => {
    const { bytes, descriptor } = encodeDocument(MediaType.ociConfig, { a: 1 });
    expect(Buffer.from(bytes).toString()).toBe('{"a":1}');
    expect(descriptor).toEqual({ mediaType: MediaType.ociConfig, digest: sha256Digest('{"a":1}'), size: 7 });
  });
});
