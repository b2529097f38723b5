// Loopback registries: Debian's `docker-registry` (CNCF distribution 2.8) on 127.0.0.1.
//  - startRegistry(): a throwaway registry per test file, on a free port, optionally TLS and/or htpasswd.
//  - ensureMirror(): the persistent mirror on a FIXED port that dockerd uses as `--registry-mirror`,
//    so `FROM busybox` resolves to our look-alike without Docker Hub.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAlive, pidFromFile, spawnDetached, stopPid, waitFor } from './exec.js';
import { stateDir } from './paths.js';

/** The mirror's fixed port (override with WHARF_TEST_MIRROR_PORT). Fixed because dockerd's flag names it. */
export const MIRROR_PORT: number = Number(process.env.WHARF_TEST_MIRROR_PORT || 5151);

export interface RegistryOptions {
  /** Default: a free ephemeral port. */
  port?: number;
  /** Default: inside a temp dir that stop() removes. */
  storageDir?: string;
  /** Serve HTTPS with this certificate (see makeSelfSignedCA in tls.ts). */
  tls?: { certFile: string; keyFile: string };
  /** Require basic auth; a bcrypt htpasswd file (`htpasswd -nbB user pass`). */
  htpasswd?: string;
  /** Keep the registry's own access log (one line per request), read with `Registry.requests()`. */
  accessLog?: boolean;
}

/** One request from the registry's access log. */
export interface LoggedRequest {
  method: string;
  /** Path and query, as requested. */
  path: string;
  status: number;
}

export interface Registry {
  /** `127.0.0.1:PORT`, as used in image references. */
  host: string;
  /** `http(s)://127.0.0.1:PORT`. */
  url: string;
  port: number;
  storageDir: string;
  /** The requests the registry logged so far (empty unless started with `accessLog: true`). */
  requests(): LoggedRequest[];
  stop(): Promise<void>;
}

/** A port that was free a moment ago (the OS picks it; tiny race accepted for tests). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() =>
        typeof addr === 'object' && addr ? resolvePort(addr.port) : reject(new Error('no port')),
      );
    });
  });
}

/** distribution's config.yml. JSON strings are valid YAML scalars, so paths need no escaping. */
export function registryConfig(
  opts: Required<Pick<RegistryOptions, 'port' | 'storageDir'>> & RegistryOptions,
): string {
  const q = JSON.stringify;
  const lines = [
    'version: 0.1',
    'log:',
    '  level: warn',
    `  accesslog: { disabled: ${opts.accessLog ? 'false' : 'true'} }`,
    'storage:',
    `  filesystem: { rootdirectory: ${q(opts.storageDir)} }`,
    '  delete: { enabled: true }',
    '  maintenance: { uploadpurging: { enabled: false } }',
    'http:',
    `  addr: ${q(`127.0.0.1:${opts.port}`)}`,
  ];
  if (opts.tls) lines.push(`  tls: { certificate: ${q(opts.tls.certFile)}, key: ${q(opts.tls.keyFile)} }`);
  if (opts.htpasswd) lines.push('auth:', `  htpasswd: { realm: wharf-test, path: ${q(opts.htpasswd)} }`);
  return `${lines.join('\n')}\n`;
}

/** True when `GET /v2/` answers like a registry (200, or 401 when auth is on). */
export function registryAnswers(url: string): Promise<boolean> {
  return new Promise((resolveOk) => {
    const request = url.startsWith('https:') ? httpsRequest : httpRequest;
    // Self-signed test certs: this is a liveness probe, not a trust decision.
    const req = request(`${url}/v2/`, { timeout: 2_000, rejectUnauthorized: false }, (res) => {
      res.resume();
      resolveOk(res.statusCode === 200 || res.statusCode === 401);
    });
    req.on('error', () => resolveOk(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

// Registries started by this worker are killed (and their dirs removed) if it exits without stop().
const children = new Map<ChildProcess, string>();
process.on('exit', () => {
  for (const [c, dir] of children) {
    c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

/** REGISTRY_* variables would override config.yml; keep them out of the child's env. */
function registryEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('REGISTRY_')));
}

/** Starts a throwaway registry and waits until it answers. Call stop() (e.g. in afterAll). */
export async function startRegistry(opts: RegistryOptions = {}): Promise<Registry> {
  const port = opts.port ?? (await freePort());
  // Not tempDir(): the registry may outlive the test that started it; stop() removes this dir.
  const dir = mkdtempSync(join(tmpdir(), 'wharf-registry-'));
  const storageDir = opts.storageDir ?? join(dir, 'storage');
  const configFile = join(dir, 'config.yml');
  writeFileSync(configFile, registryConfig({ ...opts, port, storageDir }));

  // distribution writes its access log (combined log format) to stdout: into a file, so a test that
  // blocks in spawnSync (the wharf CLI) never leaves the registry stuck on a full pipe.
  const accessLogFile = join(dir, 'access.log');
  const accessLog = opts.accessLog ? openSync(accessLogFile, 'a') : 'ignore';
  const child = spawn('docker-registry', ['serve', configFile], {
    stdio: ['ignore', accessLog, 'pipe'],
    env: registryEnv(),
  });
  if (typeof accessLog === 'number') closeSync(accessLog);
  const requests = (): LoggedRequest[] =>
    opts.accessLog
      ? readFileSync(accessLogFile, 'utf8')
          .split('\n')
          .flatMap((line) => {
            const m = /"([A-Z]+) (\S+) HTTP\/[\d.]+" (\d{3}) /.exec(line);
            return m ? [{ method: m[1] as string, path: m[2] as string, status: Number(m[3]) }] : [];
          })
      : [];
  children.set(child, dir);
  let log = '';
  child.stderr?.on('data', (b: Buffer) => {
    log = (log + b.toString()).slice(-16_384);
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let dead = false;
  void exited.then(() => {
    dead = true;
    children.delete(child);
  });

  const scheme = opts.tls ? 'https' : 'http';
  const host = `127.0.0.1:${port}`;
  const url = `${scheme}://${host}`;
  const stop = async (): Promise<void> => {
    if (!dead) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(`registry on ${host}`, async () => {
      if (dead) throw new Error(`docker-registry exited:\n${log}`);
      return registryAnswers(url);
    });
  } catch (e) {
    await stop();
    throw e;
  }
  return { host, url, port, storageDir, requests, stop };
}

export interface Mirror {
  host: string;
  url: string;
  storageDir: string;
}

/**
 * The persistent mirror registry: started detached (it outlives the test run, so warm runs skip the
 * base-image push) unless something already answers on MIRROR_PORT. Storage lives in the state dir.
 */
export async function ensureMirror(port: number = MIRROR_PORT): Promise<Mirror> {
  const dir = join(stateDir(), 'mirror');
  const storageDir = join(dir, 'storage');
  const host = `127.0.0.1:${port}`;
  const url = `http://${host}`;
  const mirror = { host, url, storageDir };
  if (await registryAnswers(url)) return mirror;

  mkdirSync(storageDir, { recursive: true });
  const pidFile = join(dir, 'pid');
  // A mirror we started earlier that no longer answers (wedged, or on another port): replace it.
  const oldPid = pidFromFile(pidFile, 'docker-registry');
  if (oldPid !== undefined) await stopPid(oldPid);

  const configFile = join(dir, 'config.yml');
  writeFileSync(configFile, registryConfig({ port, storageDir }));
  const logFile = join(dir, 'registry.log');
  const pid = spawnDetached('docker-registry', ['serve', configFile], logFile, registryEnv());
  writeFileSync(pidFile, String(pid));
  await waitFor(`mirror registry on ${host} (log: ${logFile})`, async () => {
    if (!isAlive(pid)) throw new Error(`docker-registry exited; see ${logFile}`);
    return registryAnswers(url);
  });
  return mirror;
}
