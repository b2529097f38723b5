/**
 * Where credentials come from, in order: explicit options, then the environment
 * (`WHARF_REGISTRY_USERNAME` / `WHARF_REGISTRY_PASSWORD`, applied to `WHARF_REGISTRY_HOST` when that is
 * set, else to the registry being used), then Docker's `config.json` (in `$DOCKER_CONFIG`, default
 * `~/.docker`): `credHelpers[<registry>]`, then `credsStore`, then `auths[<registry>].auth`.
 *
 * Credential helpers are Docker's protocol: `docker-credential-<name> get` with the server URL on stdin
 * prints `{"ServerURL","Username","Secret"}`; a Username of `<token>` means Secret is an identity
 * (refresh) token. `store` takes the same JSON on stdin.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { isNotFound, writeFileAtomic } from '../../fsutil/files.js';
import { RegistryError } from '../errors.js';
import { redact, rememberBasic, rememberSecret } from './redact.js';

/** A username and password, or an identity (refresh) token for the OAuth2 token flow. */
export type Credentials =
  | { readonly username: string; readonly password: string }
  | { readonly identityToken: string; readonly username?: string };

/** Looks up credentials for a registry host (`docker.io`, `ghcr.io`, `127.0.0.1:5000`). */
export type CredentialSource = (registry: string) => Promise<Credentials | undefined>;

export interface DockerAuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
  [key: string]: unknown;
}

/** The parts of Docker's config.json wharf reads and writes; other fields are kept as they are. */
export interface DockerConfigFile {
  auths?: Record<string, DockerAuthEntry>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [key: string]: unknown;
}

export interface DockerConfigOptions {
  /** The directory holding config.json; default `$DOCKER_CONFIG` or `~/.docker`. */
  readonly configDir?: string;
  readonly env?: NodeJS.ProcessEnv;
}

/** `$DOCKER_CONFIG` or `~/.docker`. */
export function dockerConfigDir(options: DockerConfigOptions = {}): string {
  const env = options.env ?? process.env;
  return options.configDir ?? env.DOCKER_CONFIG ?? join(homedir(), '.docker');
}

/** The server key Docker uses for a registry: `https://index.docker.io/v1/` for Docker Hub, else the host. */
export function credentialServerKey(registry: string): string {
  return normaliseRegistryKey(registry) === 'docker.io' ? 'https://index.docker.io/v1/' : registry;
}

/** `https://index.docker.io/v1/` → `docker.io`; `http://127.0.0.1:5000/v2/` → `127.0.0.1:5000`. */
export function normaliseRegistryKey(key: string): string {
  let host = key.trim().replace(/^[a-z]+:\/\//i, '');
  const slash = host.indexOf('/');
  if (slash >= 0) host = host.slice(0, slash);
  host = host.toLowerCase();
  if (host === 'index.docker.io' || host === 'registry-1.docker.io' || host === 'registry.hub.docker.com') {
    return 'docker.io';
  }
  return host;
}

/** Reads config.json; `{}` when there is none. */
export async function readDockerConfig(options: DockerConfigOptions = {}): Promise<DockerConfigFile> {
  const file = join(dockerConfigDir(options), 'config.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (isNotFound(error)) return {};
    throw new RegistryError('REGISTRY_CREDENTIALS', `cannot read ${file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  try {
    const doc = JSON.parse(text) as unknown;
    return typeof doc === 'object' && doc !== null ? (doc as DockerConfigFile) : {};
  } catch (error) {
    throw new RegistryError('REGISTRY_CREDENTIALS', `${file} is not valid JSON`, {
      cause: error,
      hint: 'fix or remove the file (wharf login writes a new one)',
    });
  }
}

function fromEntry(entry: DockerAuthEntry): Credentials | undefined {
  if (entry.identitytoken) {
    rememberSecret(entry.identitytoken);
    return { identityToken: entry.identitytoken, ...(entry.username ? { username: entry.username } : {}) };
  }
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) {
      const creds = { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
      rememberBasic(creds.username, creds.password);
      return creds;
    }
  }
  if (entry.username && entry.password) {
    rememberBasic(entry.username, entry.password);
    return { username: entry.username, password: entry.password };
  }
  return undefined;
}

/** The helper's output for one action; rejects with REGISTRY_CREDENTIALS (stderr redacted). */
export function runCredentialHelper(
  helper: string,
  action: 'get' | 'store' | 'erase',
  input: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const program = `docker-credential-${helper}`;
  return new Promise((resolve, reject) => {
    const child = spawn(program, [action], { stdio: ['pipe', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    child.on('error', (error) => {
      reject(
        new RegistryError(
          'REGISTRY_CREDENTIALS',
          `cannot run credential helper ${program}: ${error.message}`,
          {
            cause: error,
            hint: `install ${program} on PATH, or remove "${helper}" from credsStore/credHelpers in your Docker config`,
          },
        ),
      );
    });
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.on('error', () => {}); // a helper that exits without reading stdin
    child.stdin.end(input);
  });
}

/** `docker-credential-<helper> get` for `registry`; undefined when the helper has none. */
export async function helperCredentials(
  helper: string,
  registry: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Credentials | undefined> {
  const server = credentialServerKey(registry);
  const { code, stdout, stderr } = await runCredentialHelper(helper, 'get', server, env);
  if (code !== 0) {
    if (/credentials not found/i.test(stdout + stderr)) return undefined;
    throw new RegistryError(
      'REGISTRY_CREDENTIALS',
      `credential helper docker-credential-${helper} failed for ${server}: ${redact((stderr || stdout).trim()) || `exit ${code}`}`,
      { hint: `run: echo ${server} | docker-credential-${helper} get` },
    );
  }
  let doc: { Username?: unknown; Secret?: unknown };
  try {
    doc = JSON.parse(stdout) as typeof doc;
  } catch (error) {
    throw new RegistryError(
      'REGISTRY_CREDENTIALS',
      `credential helper docker-credential-${helper} printed no JSON`,
      {
        cause: error,
      },
    );
  }
  const username = typeof doc.Username === 'string' ? doc.Username : '';
  const secret = typeof doc.Secret === 'string' ? doc.Secret : '';
  if (!secret) return undefined;
  if (username === '<token>') {
    rememberSecret(secret);
    return { identityToken: secret };
  }
  rememberBasic(username, secret);
  return { username, password: secret };
}

/** Credentials for `registry` from Docker's config (helpers first, then `auths`). */
export async function dockerCredentials(
  registry: string,
  options: DockerConfigOptions = {},
): Promise<Credentials | undefined> {
  const env = options.env ?? process.env;
  const config = await readDockerConfig(options);
  const wanted = normaliseRegistryKey(registry);
  const helper =
    Object.entries(config.credHelpers ?? {}).find(([key]) => normaliseRegistryKey(key) === wanted)?.[1] ??
    config.credsStore;
  if (helper) {
    const found = await helperCredentials(helper, registry, env);
    if (found) return found;
  }
  for (const [key, entry] of Object.entries(config.auths ?? {})) {
    if (normaliseRegistryKey(key) === wanted && entry && typeof entry === 'object') {
      const creds = fromEntry(entry);
      if (creds) return creds;
    }
  }
  return undefined;
}

export interface CredentialOptions extends DockerConfigOptions {
  /** Explicit credentials: for every registry, or per registry host. */
  readonly credentials?: Credentials | Readonly<Record<string, Credentials>> | CredentialSource;
}

function isCredentials(value: unknown): value is Credentials {
  return typeof value === 'object' && value !== null && ('password' in value || 'identityToken' in value);
}

/** The default lookup chain (see the module doc). */
export function credentialSource(options: CredentialOptions = {}): CredentialSource {
  const env = options.env ?? process.env;
  return async (registry) => {
    const explicit = options.credentials;
    if (typeof explicit === 'function') {
      const found = await explicit(registry);
      if (found) return remember(found);
    } else if (isCredentials(explicit)) {
      return remember(explicit);
    } else if (explicit) {
      const wanted = normaliseRegistryKey(registry);
      const found = Object.entries(explicit).find(([key]) => normaliseRegistryKey(key) === wanted)?.[1];
      if (found) return remember(found);
    }
    const user = env.WHARF_REGISTRY_USERNAME;
    const password = env.WHARF_REGISTRY_PASSWORD;
    const host = env.WHARF_REGISTRY_HOST;
    if (user && password && (!host || normaliseRegistryKey(host) === normaliseRegistryKey(registry))) {
      return remember({ username: user, password });
    }
    return dockerCredentials(registry, options);
  };
}

function remember(credentials: Credentials): Credentials {
  if ('password' in credentials) rememberBasic(credentials.username, credentials.password);
  else rememberSecret(credentials.identityToken);
  return credentials;
}

/**
 * Saves credentials the way `docker login` does: through the credential helper when config.json names
 * one for this registry (`credHelpers`, `credsStore`), else as base64 `auths[<server>].auth`.
 * The file is replaced atomically, mode 0600, keeping every other field.
 */
export async function storeCredentials(
  registry: string,
  credentials: { readonly username: string; readonly password: string },
  options: DockerConfigOptions = {},
): Promise<{ file: string; helper?: string }> {
  const env = options.env ?? process.env;
  const dir = dockerConfigDir(options);
  const file = join(dir, 'config.json');
  const config = await readDockerConfig(options);
  const server = credentialServerKey(registry);
  const wanted = normaliseRegistryKey(registry);
  const helper =
    Object.entries(config.credHelpers ?? {}).find(([key]) => normaliseRegistryKey(key) === wanted)?.[1] ??
    config.credsStore;
  if (helper) {
    const input = JSON.stringify({
      ServerURL: server,
      Username: credentials.username,
      Secret: credentials.password,
    });
    const { code, stdout, stderr } = await runCredentialHelper(helper, 'store', input, env);
    if (code !== 0) {
      throw new RegistryError(
        'REGISTRY_CREDENTIALS',
        `credential helper docker-credential-${helper} could not store credentials for ${server}: ${redact((stderr || stdout).trim())}`,
      );
    }
    // Like docker: make sure the file has an (empty) entry, so tools list the registry as logged in.
    config.auths = { ...(config.auths ?? {}), [server]: {} };
  } else {
    const auth = Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64');
    config.auths = { ...(config.auths ?? {}), [server]: { auth } };
  }
  await writeFileAtomic(file, `${JSON.stringify(config, null, '\t')}\n`, { mode: 0o600, dirMode: 0o700 });
  return helper ? { file, helper } : { file };
}
