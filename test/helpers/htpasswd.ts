// htpasswd files for `docker-registry`'s basic auth, which accepts bcrypt only. No npm dependency and no
// apache2-utils: Debian's perl calls libxcrypt's crypt(3), which implements bcrypt ("$2b$").
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { run } from './exec.js';

const BCRYPT_ALPHABET = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A bcrypt hash of `password` (cost 5: fast enough for tests). */
export async function bcryptHash(password: string, cost = 5): Promise<string> {
  const bytes = randomBytes(22);
  // 22 salt characters; the last one carries only 2 bits, so pick it from the 4 characters that round-trip.
  let salt = '';
  for (let i = 0; i < 21; i++) salt += BCRYPT_ALPHABET[(bytes[i] as number) % 64];
  salt += '.Oeu'[(bytes[21] as number) % 4];
  const setting = `$2b$${String(cost).padStart(2, '0')}$${salt}`;
  const { stdout } = await run('perl', ['-e', 'print crypt($ARGV[0], $ARGV[1])', password, setting]);
  if (!stdout.startsWith(setting))
    throw new Error(`perl crypt() does not support bcrypt here (got ${JSON.stringify(stdout)})`);
  return stdout;
}

/** Writes an htpasswd file with `users` (name → password) and returns its path. */
export async function writeHtpasswd(file: string, users: Readonly<Record<string, string>>): Promise<string> {
  const lines: string[] = [];
  for (const [name, password] of Object.entries(users)) lines.push(`${name}:${await bcryptHash(password)}`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}
