import { generateKeyPairSync, KeyObject } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAttestFlags, parseSignSpec } from './attest.js';

const dir = mkdtempSync(join(tmpdir(), 'wharf-cli-sign-'));
const key = join(dir, 'cosign.key');
writeFileSync(
  key,
  generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'sec1' }),
);

describe('--sign', () => {
  it('parses key=FILE and keyless with its service URLs', () => {
    // the key is read and checked once, and handed on (a cosign key's scrypt is not run twice)
    expect(parseSignSpec(`key=${key}`)).toEqual({
      kind: 'key',
      keyFile: key,
      privateKey: expect.any(KeyObject),
    });
    expect(parseSignSpec('keyless')).toEqual({
      kind: 'keyless',
      fulcioUrl: undefined,
      rekorUrl: undefined,
      tsaUrl: undefined,
    });
    expect(
      parseSignSpec(
        'keyless,fulcio=https://fulcio.internal,rekor=http://127.0.0.1:3000,tsa=https://tsa.internal',
      ),
    ).toEqual({
      kind: 'keyless',
      fulcioUrl: 'https://fulcio.internal',
      rekorUrl: 'http://127.0.0.1:3000',
      tsaUrl: 'https://tsa.internal',
    });
  });

  it('refuses what it cannot use, each with one line naming the input', () => {
    expect(() => parseSignSpec('cert=x')).toThrow('--sign cert=x: say key=FILE or keyless');
    expect(() => parseSignSpec('key=')).toThrow('--sign key=: key= needs a file');
    expect(() => parseSignSpec(`key=${key},fulcio=https://x`)).toThrow(
      'key= takes only rekor=URL besides, not fulcio',
    );
    expect(parseSignSpec(`key=${key},rekor=https://rekor.internal`)).toEqual({
      kind: 'key',
      keyFile: key,
      privateKey: expect.any(KeyObject),
      rekorUrl: 'https://rekor.internal',
    });
    expect(() => parseSignSpec('keyless,fulcio=ftp://x')).toThrow('fulcio= must be an http(s) URL');
    expect(() => parseSignSpec('keyless,oidc=x')).toThrow('unknown field oidc');
    expect(() => parseSignSpec(`key=${join(dir, 'missing.key')}`)).toThrow(/cannot be read/);
  });

  it('needs a push, like --sbom and --provenance', () => {
    expect(() => parseAttestFlags({ sign: `key=${key}` }, false)).toThrow(
      '--sbom, --provenance and --sign apply to a pushed image or an OCI layout',
    );
    expect(parseAttestFlags({ sign: 'keyless' }, true).sign?.kind).toBe('keyless');
  });
});
