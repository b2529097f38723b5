/** Signing keys for tests, made by openssl (not by the code under test). */
import { execFileSync } from 'node:child_process';
import { createPrivateKey, randomBytes, scryptSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import nacl from 'tweetnacl';

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
