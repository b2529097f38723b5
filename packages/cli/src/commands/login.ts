/**
 * `wharf login [-u USER] [--password-stdin] [REGISTRY]`: check credentials against the registry and save
 * them in Docker's config (`$DOCKER_CONFIG/config.json`, through its credential helper when one is set).
 */
import { login } from '@wharf/core/registry';
import type { Command } from 'commander';
import { type RegistryFlags, registryOptions, registryOptionsFrom } from './pull.js';

interface LoginFlags extends RegistryFlags {
  readonly username?: string;
  readonly password?: string;
  readonly passwordStdin?: boolean;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

export function registerLogin(program: Command): void {
  const command = program
    .command('login')
    .description("log in to a registry (writes Docker's config.json, like docker login)")
    .argument('[registry]', 'the registry host, e.g. ghcr.io or localhost:5000', 'docker.io')
    .option('-u, --username <name>', 'the user name')
    .option(
      '-p, --password <password>',
      'the password (prefer --password-stdin: arguments end up in shell history)',
    )
    .option('--password-stdin', 'read the password from stdin');
  registryOptions(command).action(async (registry: string, flags: LoginFlags, cmd: Command) => {
    if (!flags.username) {
      throw cmd.error('wharf: login needs --username', { exitCode: 2 });
    }
    if (flags.password && flags.passwordStdin)
      throw cmd.error('wharf: --password and --password-stdin exclude each other', { exitCode: 2 });
    const password = flags.passwordStdin ? await readStdin() : flags.password;
    if (!password) throw cmd.error('wharf: login needs --password-stdin (or --password)', { exitCode: 2 });
    if (flags.password)
      process.stderr.write('wharf: warning: --password is insecure; use --password-stdin\n');
    const result = await login(
      registry,
      flags.username,
      password,
      registryOptionsFrom({ ...flags, quiet: true }, cmd),
    );
    process.stdout.write(
      `Login succeeded: ${result.server}${result.helper ? ` (stored by docker-credential-${result.helper})` : ''}\n`,
    );
  });
}
