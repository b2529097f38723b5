/** Signing keys for tests, made by openssl (not by the code under test). */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

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
