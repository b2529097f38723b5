/** Signing keys for tests, made by openssl (not by the code under test). */
import { execFileSync } from 'node:child_process';
import { createPrivateKey, randomBytes, scryptSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import nacl from 'tweetnacl';
import { expect } from 'vitest';
import { preAuthEncoding } from '../../packages/core/src/sign/index.js';

/** Runs openssl and returns its stdout (throws with its stderr on failure). */
export const openssl = (...args: string[]): string =>
  execFileSync('openssl', args, { encoding: 'utf8', stdio: 'pipe' });

/** An ECDSA P-256 key pair under `dir`: `<name>.key` (SEC1), `<name>.p8.key` (PKCS#8), `<name>.pub` (SPKI). */
export function p256KeyPair(dir: string, name: string): { sec1: string; pkcs8: string; pub: string } {
  const sec1 = join(dir, `${name}.key`);
  const pkcs8 = join(dir, `${name}.p8.key`);
  const pub = join(dir, `${name}.pub`);
  openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', sec1);
  openssl('pkcs8', '-topk8', '-nocrypt', '-in', sec1, '-out', pkcs8);
  openssl('ec', '-in', sec1, '-pubout', '-out', pub);
  return { sec1, pkcs8, pub };
}

/**
 * `pkcs8` (a PEM PKCS#8 key file) rewritten in cosign's encrypted format, made from the format's
 * description (scrypt N=32768 r=8 p=1 → 32-byte key; NaCl secretbox over the PKCS#8 DER; JSON in a PEM
 * block), not by the code under test. Returns the new file's path (`<pkcs8>.cosign`).
 */
export function cosignKeyFile(pkcs8: string, password: string): string {
  const der = createPrivateKey(readFileSync(pkcs8, 'utf8')).export({ format: 'der', type: 'pkcs8' });
  const salt = randomBytes(32);
  const nonce = randomBytes(24);
  const params = { N: 32768, r: 8, p: 1 };
  const key = scryptSync(password, salt, 32, { ...params, maxmem: 64 * 1024 * 1024 });
  const sealed = nacl.secretbox(new Uint8Array(der), new Uint8Array(nonce), new Uint8Array(key));
  const json = JSON.stringify({
    kdf: { name: 'scrypt', params, salt: salt.toString('base64') },
    cipher: { name: 'nacl/secretbox', nonce: nonce.toString('base64') },
    ciphertext: Buffer.from(sealed).toString('base64'),
  });
  const body = Buffer.from(json).toString('base64').replace(/.{64}/g, '$&\n');
  const file = `${pkcs8}.cosign`;
  writeFileSync(
    file,
    `-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n${body}\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n`,
  );
  return file;
}

/** The part of a Sigstore bundle openssl checks. */
export interface DsseBundle {
  readonly dsseEnvelope: { payload: string; payloadType: string; signatures: { sig: string }[] };
}

/** openssl's own check of a DSSE signature: ECDSA-SHA256 over PAE(payloadType, payload). */
export function opensslVerifiesDsse(bundle: DsseBundle, pub: string, dir: string): string {
  const envelope = bundle.dsseEnvelope;
  const pae = preAuthEncoding(envelope.payloadType, Buffer.from(envelope.payload, 'base64'));
  // PAE spelt out independently too: "DSSEv1 <len> <type> <len> <body>"
  const body = Buffer.from(envelope.payload, 'base64');
  const manual = Buffer.concat([
    Buffer.from(`DSSEv1 ${envelope.payloadType.length} ${envelope.payloadType} ${body.length} `),
    body,
  ]);
  expect(pae.equals(manual)).toBe(true);
  const paeFile = join(dir, 'pae.bin');
  const sigFile = join(dir, 'sig.der');
  writeFileSync(paeFile, manual);
  writeFileSync(sigFile, Buffer.from(envelope.signatures[0]?.sig ?? '', 'base64'));
  try {
    return openssl('dgst', '-sha256', '-verify', pub, '-signature', sigFile, paeFile).trim();
  } catch (error) {
    return String((error as { stdout?: string }).stdout ?? error).trim();
  }
}
