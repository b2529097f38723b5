/**
 * Registry settings from options, the environment and wharf's config file, merged:
 *
 * | setting             | option        | environment                              | config file key      |
 * | ------------------- | ------------- | ---------------------------------------- | -------------------- |
 * | pull mirrors        | `mirrors`     | `WHARF_REGISTRY_MIRROR` (comma-separated)| `registryMirrors`    |
 * | insecure registries | `insecure`    | `WHARF_INSECURE_REGISTRIES` (comma-sep.) | `insecureRegistries` |
 * | extra CA files      | `caFile`      | `WHARF_REGISTRY_CA_FILE` (and Node's `NODE_EXTRA_CA_CERTS`) | `caFile` |
 * | idle timeout        | `timeoutMs`   | `WHARF_REGISTRY_TIMEOUT` (seconds)       | —                    |
 *
 * Mirrors: the option wins, then the variable, then the file (like Docker's `registry-mirrors`, they
 * apply to Docker Hub images only). Insecure registries and CA files are the union of all three.
 * The config file is `$WHARF_CONFIG`, else `$XDG_CONFIG_HOME/wharf/config.json`, else
 * `~/.config/wharf/config.json`:
 *
 * ```json
 * { "registryMirrors": ["http://127.0.0.1:5151"], "insecureRegistries": ["registry.lan:5000"], "caFile": "/etc/wharf/ca.pem" }
 * ```
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { redactUrl, rememberUrlSecret } from './auth/redact.js';
import { RegistryError } from './errors.js';
import { DEFAULT_TIMEOUT_MS } from './transport/http.js';

export interface RegistrySettingsOptions {
  /** Mirror URLs for Docker Hub pulls (`http://127.0.0.1:5151`, `https://mirror.example`). */
  readonly mirrors?: readonly string[];
  /** Registries reached over plain HTTP (or HTTPS without verification) besides loopback ones. */
  readonly insecure?: readonly string[];
  /** A PEM CA file (or several) to trust besides the system CAs. */
  readonly caFile?: string | readonly string[];
  /**
   * The longest wait for response headers or the next bytes of a body (`WHARF_REGISTRY_TIMEOUT`, in
   * seconds, when not given). Default 30 s; a whole document (manifest, token) gets 4 times it.
   */
  readonly timeoutMs?: number;
  readonly env?: NodeJS.ProcessEnv;
  /** Read this config file instead of the default; `false` reads none. */
  readonly configFile?: string | false;
}

export interface RegistrySettings {
  readonly mirrors: readonly string[];
  readonly insecure: readonly string[];
  readonly caFiles: readonly string[];
  readonly timeoutMs: number;
}

interface WharfConfigFile {
  registryMirrors?: unknown;
  insecureRegistries?: unknown;
  caFile?: unknown;
}

/** The config file wharf reads (whether or not it exists). */
export function wharfConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.WHARF_CONFIG) return env.WHARF_CONFIG;
  const xdg = env.XDG_CONFIG_HOME;
  return xdg && isAbsolute(xdg)
    ? join(xdg, 'wharf', 'config.json')
    : join(homedir(), '.config', 'wharf', 'config.json');
}

function readConfig(file: string): WharfConfigFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  try {
    return JSON.parse(text) as WharfConfigFile;
  } catch (cause) {
    throw new RegistryError('REGISTRY_PROTOCOL', `${file} is not valid JSON`, {
      cause,
      hint: 'fix the file; see the registry README for its keys',
    });
  }
}

const list = (value: unknown): string[] =>
  Array.isArray(value)
    ? value.filter((v): v is string => typeof v === 'string' && v.trim() !== '').map((v) => v.trim())
    : typeof value === 'string'
      ? value
          .split(',')
          .map((v) => v.trim())
          .filter(Boolean)
      : [];

/** Merged settings (see the module doc). */
export function registrySettings(options: RegistrySettingsOptions = {}): RegistrySettings {
  const env = options.env ?? process.env;
  const file = options.configFile === false ? {} : readConfig(options.configFile ?? wharfConfigPath(env));
  const optionMirrors = list(options.mirrors);
  const envMirrors = list(env.WHARF_REGISTRY_MIRROR);
  const mirrors = optionMirrors.length
    ? optionMirrors
    : envMirrors.length
      ? envMirrors
      : list(file.registryMirrors);
  const insecure = [
    ...new Set([
      ...list(options.insecure),
      ...list(env.WHARF_INSECURE_REGISTRIES),
      ...list(file.insecureRegistries),
    ]),
  ];
  const caFiles = [
    ...new Set([
      ...(typeof options.caFile === 'string' ? [options.caFile] : list(options.caFile)),
      ...list(env.WHARF_REGISTRY_CA_FILE),
      ...list(file.caFile),
    ]),
  ];
  return {
    mirrors: mirrors.map((m) => checkMirror(m).replace(/\/+$/, '')),
    insecure,
    caFiles,
    timeoutMs:
      options.timeoutMs === undefined
        ? timeoutFromEnv(env.WHARF_REGISTRY_TIMEOUT)
        : timeoutFromEnv(String(options.timeoutMs / 1000), 'the timeoutMs option (seconds)'),
  };
}

/** The idle timeout in ms from seconds; 0, negative or not a number is an error (0 would turn it off). */
function timeoutFromEnv(value: string | undefined, what = 'WHARF_REGISTRY_TIMEOUT'): number {
  if (value === undefined || value.trim() === '') return DEFAULT_TIMEOUT_MS;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new RegistryError('REGISTRY_INVALID', `${what}=${value} is not a positive number of seconds`, {
      hint: 'set a positive number of seconds, e.g. WHARF_REGISTRY_TIMEOUT=30 (or unset it for 30 s)',
    });
  }
  return Math.round(seconds * 1000);
}

/** A mirror must be an http(s) URL; its password (if any) is registered for redaction and never printed. */
function checkMirror(mirror: string): string {
  let url: URL | undefined;
  try {
    url = new URL(mirror);
  } catch {
    url = undefined;
  }
  if (url?.password) rememberUrlSecret(url);
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new RegistryError(
      'REGISTRY_INVALID',
      `registry mirror ${redactUrl(mirror)} is not an http(s) URL`,
      {
        hint: 'give mirrors as URLs, e.g. --registry-mirror http://127.0.0.1:5151 (WHARF_REGISTRY_MIRROR, registryMirrors)',
      },
    );
  }
  return mirror;
}

/** Docker Hub's API host for `docker.io`; every other registry is its own API host. */
export function apiHost(registry: string): string {
  return registry === 'docker.io' || registry === 'index.docker.io' ? 'registry-1.docker.io' : registry;
}

/** `localhost`, `127.0.0.0/8` and `::1`, with or without a port: Docker treats these as insecure by default. */
export function isLoopback(host: string): boolean {
  let name = host;
  if (name.startsWith('[')) name = name.slice(1, name.indexOf(']'));
  else if (name.split(':').length === 2) name = name.slice(0, name.indexOf(':'));
  name = name.toLowerCase();
  return name === 'localhost' || name === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}

/** True when `registry` may be reached over plain HTTP: loopback, or listed as insecure. */
export function allowsPlainHttp(registry: string, insecure: readonly string[]): boolean {
  return isLoopback(registry) || isExplicitlyInsecure(registry, insecure);
}

/** True when the user listed `registry` as insecure (host, host:port, or a URL naming it). */
export function isExplicitlyInsecure(registry: string, insecure: readonly string[]): boolean {
  const wanted = registry.toLowerCase();
  return insecure.some(
    (entry) =>
      entry
        .toLowerCase()
        .replace(/^[a-z]+:\/\//, '')
        .replace(/\/.*$/, '') === wanted,
  );
}
