/**
 * `wharf login`: checks the credentials against the registry (`GET /v2/` with Basic, or with a token
 * from the Bearer realm, as `docker login` does) and saves them in Docker's config format.
 */
import { parseChallenges, pickChallenge } from './auth/challenge.js';
import {
  type Credentials,
  credentialServerKey,
  type DockerConfigOptions,
  storeCredentials,
} from './auth/credentials.js';
import { rememberBasic } from './auth/redact.js';
import { RegistryClient, type RegistryOptions } from './client.js';
import { RegistryError } from './errors.js';

export interface LoginOptions extends RegistryOptions, DockerConfigOptions {
  /** Check only; do not write config.json. */
  readonly dryRun?: boolean;
}

export interface LoginResult {
  readonly registry: string;
  /** The server key written (`https://index.docker.io/v1/` for Docker Hub). */
  readonly server: string;
  /** The config file written, and the helper used, if any. */
  readonly file?: string;
  readonly helper?: string;
}

/** `index.docker.io`, `https://host:5000/` → the registry name used in references (never `user:pass@`). */
function registryName(input: string): string {
  const host = input
    .replace(/^[a-z]+:\/\//i, '')
    .replace(/\/.*$/, '')
    .replace(/^.*@/, '')
    .toLowerCase();
  return host === 'index.docker.io' || host === 'registry-1.docker.io' || host === '' ? 'docker.io' : host;
}

/** Verifies `username`/`password` against `registry` and saves them (see the module doc). */
export async function login(
  registry: string,
  username: string,
  password: string,
  options: LoginOptions = {},
): Promise<LoginResult> {
  const name = registryName(registry);
  rememberBasic(username, password);
  const credentials: Credentials = { username, password };
  const client = new RegistryClient(name, { ...options, credentials });
  const context = { registry: name, operation: 'login' };
  try {
    // Discovery pings /v2/ and learns the challenge; then /v2/ again, signed.
    await client.ping();
    const response = await client.send({ method: 'GET', url: '/v2/', scopes: [] }, context);
    await response.body.dump();
    if (response.status === 401) {
      const challenge = pickChallenge(parseChallenges(response.headers['www-authenticate']));
      throw new RegistryError(
        'REGISTRY_UNAUTHORIZED',
        `login to ${name} failed: wrong username or password for ${JSON.stringify(username)}`,
        {
          status: 401,
          context,
          hint: `check the credentials${challenge?.scheme === 'bearer' ? ' (or use an access token as the password)' : ''}`,
        },
      );
    }
    if (response.status !== 200) {
      throw new RegistryError(
        'REGISTRY_PROTOCOL',
        `login to ${name}: /v2/ answered HTTP ${response.status}`,
        {
          status: response.status,
          context,
        },
      );
    }
  } finally {
    await client.close();
  }
  const server = credentialServerKey(name);
  if (options.dryRun) return { registry: name, server };
  const saved = await storeCredentials(name, { username, password }, options);
  return { registry: name, server, ...saved };
}
