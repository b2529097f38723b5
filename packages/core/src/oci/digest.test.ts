import { describe, expect, it } from 'vitest';
import {
  createDigester,
  digestAlgorithm,
  digestHex,
  digestOf,
  isDigest,
  isWellFormedDigest,
  parseDigest,
  sha256Digest,
  verify,
} from './digest.js';
import { OciError } from './errors.js';

const EMPTY_SHA256 = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const ABC_SHA512 =
  'sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof OciError ? error.code : 'not an OciError';
  }
  return undefined;
}

describe('parseDigest', () => {
  it('accepts sha256 and sha512', () => {
    expect(parseDigest(EMPTY_SHA256)).toBe(EMPTY_SHA256);
    expect(parseDigest(ABC_SHA512)).toBe(ABC_SHA512);
    expect(digestAlgorithm(parseDigest(ABC_SHA512))).toBe('sha512');
    expect(digestHex(parseDigest(EMPTY_SHA256))).toBe(EMPTY_SHA256.slice(7));
  });

  it.each([
    ['', 'OCI_INVALID_DIGEST'],
    ['e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'OCI_INVALID_DIGEST'],
    [':abc', 'OCI_INVALID_DIGEST'],
    ['sha256:', 'OCI_INVALID_DIGEST'],
    ['sha256:abc', 'OCI_INVALID_DIGEST'],
    [EMPTY_SHA256.toUpperCase().replace('SHA256', 'sha256'), 'OCI_INVALID_DIGEST'],
    [`${EMPTY_SHA256}0`, 'OCI_INVALID_DIGEST'],
    [EMPTY_SHA256.replace('e3', 'g3'), 'OCI_INVALID_DIGEST'],
    ['sha512:abcd', 'OCI_INVALID_DIGEST'],
    ['md5:d41d8cd98f00b204e9800998ecf8427e', 'OCI_UNSUPPORTED_DIGEST_ALGORITHM'],
    ['sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564', 'OCI_UNSUPPORTED_DIGEST_ALGORITHM'],
    ['SHA256:abc', 'OCI_INVALID_DIGEST'],
  ])('rejects %j with %s', (input, code) => {
    expect(codeOf(() => parseDigest(input))).toBe(code);
    expect(isDigest(input)).toBe(false);
  });

  it.each([
    'sha256:../../../../../etc/passwd',
    `sha256:${'a'.repeat(64)}/../../x`,
    `sha256:${'a'.repeat(62)}/.`,
    `sha256:${'a'.repeat(64)}\n`,
    `sha256:${'a'.repeat(64)}?x=1`,
    `../sha256:${'a'.repeat(64)}`,
    `sha512:${'a'.repeat(64)}`,
  ])('refuses %j before it can reach a URL or a path', (input) => {
    expect(codeOf(() => parseDigest(input))).toBe('OCI_INVALID_DIGEST');
    expect(isDigest(input)).toBe(false);
  });

  it('refuses non-strings from JSON, and names where the digest came from', () => {
    for (const value of [undefined, null, 42, { digest: 'x' }, ['sha256:x']]) {
      expect(codeOf(() => parseDigest(value))).toBe('OCI_INVALID_DIGEST');
      expect(isDigest(value)).toBe(false);
    }
    expect(() => parseDigest('sha256:../x', 'layer 0 of manifest latest')).toThrow(
      /^layer 0 of manifest latest: invalid sha256 digest "sha256:..\/x"/,
    );
    const long = `sha256:${'../'.repeat(10_000)}`;
    expect(() => parseDigest(long)).toThrow(/…"/);
    try {
      parseDigest(long);
    } catch (error) {
      expect((error as Error).message.length).toBeLessThan(300);
    }
  });

  it('names the input and suggests the lowercase fix', () => {
    const upper = `sha256:${EMPTY_SHA256.slice(7).toUpperCase()}`;
    try {
      parseDigest(upper);
      expect.unreachable();
    } catch (error) {
      const e = error as OciError;
      expect(e.message).toContain(upper);
      expect(e.hint).toBe(`hex must be lowercase: ${EMPTY_SHA256}`);
    }
  });

  it('isWellFormedDigest follows go-digest: strict for registered algorithms, loose otherwise', () => {
    expect(isWellFormedDigest(EMPTY_SHA256)).toBe(true);
    expect(isWellFormedDigest('sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564')).toBe(true);
    expect(isWellFormedDigest('multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8')).toBe(true);
    expect(isWellFormedDigest('sha256:ABC')).toBe(false);
    expect(isWellFormedDigest('sha256++b64:abc')).toBe(false);
    expect(isWellFormedDigest('nocolon')).toBe(false);
  });
});

describe('hashing', () => {
  it('sha256Digest and digestOf hash bytes and UTF-8 strings', () => {
    expect(sha256Digest(new Uint8Array())).toBe(EMPTY_SHA256);
    expect(sha256Digest('')).toBe(EMPTY_SHA256);
    expect(digestOf('abc', 'sha512')).toBe(ABC_SHA512);
    expect(sha256Digest('{}')).toBe(
      'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
    );
  });

  it('createDigester streams to the same result and counts bytes', () => {
    const data = Buffer.from('hello, streaming world — ünïcode');
    const d = createDigester();
    for (let i = 0; i < data.length; i += 5) d.update(data.subarray(i, i + 5));
    expect(d.size).toBe(data.length);
    expect(d.digest()).toBe(sha256Digest(data));
    expect(d.digest()).toBe(sha256Digest(data));
    expect(() => d.update('more')).toThrow(/after digest/);
    expect(createDigester('sha512').update('a').update('bc').digest()).toBe(ABC_SHA512);
  });

  it('verify passes on a match and throws OCI_DIGEST_MISMATCH otherwise', () => {
    expect(() => verify('', parseDigest(EMPTY_SHA256))).not.toThrow();
    expect(() => verify('abc', parseDigest(ABC_SHA512))).not.toThrow();
    expect(codeOf(() => verify('x', parseDigest(EMPTY_SHA256)))).toBe('OCI_DIGEST_MISMATCH');
  });
});
