// A token server for distribution's `auth: token` (the Docker token-auth flow), run in-process by tests:
// GET /token?service=…&scope=… with Basic credentials → a JWT signed RS256 with a test key, carrying the
// certificate in `x5c` so the registry verifies it against `rootcertbundle`. Plus startTokenRegistry(),
// a docker-registry configured to trust it.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, waitFor } from './exec.js';
import { freePort, registryAnswers } from './registry.js';

export interface TokenRequestLog {
  readonly user: string | undefined;
  readonly service: string | null;
  readonly scopes: readonly string[];
}

export interface TokenIssuer {
  /** `http://127.0.0.1:PORT/token`. */
  readonly realm: string;
  readonly service: string;
  readonly issuer: string;
  /** PEM certificate of the signing key: the registry's `rootcertbundle`. */
  readonly certFile: string;
  /** Every token request, in order. */
  readonly requests: TokenRequestLog[];
  stop(): Promise<void>;
}

export interface TokenIssuerOptions {
  /** name → password. */
  readonly users: Readonly<Record<string, string>>;
  /** Token lifetime (s). Default 300. */
  readonly expiresIn?: number;
  /** Repositories each user may push to (default: all); pull is always granted to known users. */
  readonly pushable?: Readonly<Record<string, readonly string[]>>;
}

const b64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

function basicUser(
  req: IncomingMessage,
  users: Readonly<Record<string, string>>,
): string | undefined | false {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const m = /^Basic\s+(.+)$/i.exec(header);
  if (!m?.[1]) return false;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const name = decoded.slice(0, colon);
  return colon > 0 && users[name] === decoded.slice(colon + 1) ? name : false;
}

export async function startTokenIssuer(dir: string, options: TokenIssuerOptions): Promise<TokenIssuer> {
  const keyFile = join(dir, 'token.key');
  const certFile = join(dir, 'token.crt');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    '2',
    '-subj',
    '/CN=wharf test token issuer',
  ]);
  const key = readFileSync(keyFile, 'utf8');
  const der = Buffer.from(
    readFileSync(certFile, 'utf8').replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, ''),
    'base64',
  );
  const service = 'wharf-test-registry';
  const issuer = 'wharf-test-issuer';
  const requests: TokenRequestLog[] = [];
  const expiresIn = options.expiresIn ?? 300;

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/token') {
      res.writeHead(404).end();
      return;
    }
    const user = basicUser(req, options.users);
    const scopes = url.searchParams
      .getAll('scope')
      .flatMap((s) => s.split(' '))
      .filter(Boolean);
    requests.push({ user: user || undefined, service: url.searchParams.get('service'), scopes });
    if (user === false || user === undefined) {
      res
        .writeHead(401, { 'content-type': 'application/json' })
        .end('{"details":"incorrect username or password"}');
      return;
    }
    const access = scopes.flatMap((scope) => {
      const [type, ...rest] = scope.split(':');
      const actions = (rest.pop() ?? '').split(',');
      const name = rest.join(':');
      if (type !== 'repository') return [];
      const canPush = options.pushable?.[user]?.includes(name) ?? true;
      const granted = actions.filter((a) => a === 'pull' || (a === 'push' && canPush));
      return granted.length ? [{ type, name, actions: granted }] : [];
    });
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', x5c: [der.toString('base64')] }));
    const claims = b64url(
      JSON.stringify({
        iss: issuer,
        sub: user,
        aud: service,
        exp: now + expiresIn,
        nbf: now - 10,
        iat: now,
        jti: randomUUID(),
        access,
      }),
    );
    const signature = b64url(sign('sha256', Buffer.from(`${header}.${claims}`), key));
    const token = `${header}.${claims}.${signature}`;
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        token,
        access_token: token,
        expires_in: expiresIn,
        issued_at: new Date(now * 1000).toISOString(),
      }),
    );
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    certFile,
    requests,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface TokenRegistry {
  readonly host: string;
  readonly url: string;
  stop(): Promise<void>;
}

/** A docker-registry (plain HTTP on loopback) whose auth is `token`, trusting `issuer`. */
export async function startTokenRegistry(issuer: TokenIssuer): Promise<TokenRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-token-registry-'));
  const port = await freePort();
  const q = JSON.stringify;
  writeFileSync(
    join(dir, 'config.yml'),
    [
      'version: 0.1',
      'log: { level: warn, accesslog: { disabled: true } }',
      `storage: { filesystem: { rootdirectory: ${q(join(dir, 'storage'))} }, maintenance: { uploadpurging: { enabled: false } } }`,
      `http: { addr: ${q(`127.0.0.1:${port}`)} }`,
      'auth:',
      '  token:',
      `    realm: ${q(issuer.realm)}`,
      `    service: ${q(issuer.service)}`,
      `    issuer: ${q(issuer.issuer)}`,
      `    rootcertbundle: ${q(issuer.certFile)}`,
      '',
    ].join('\n'),
  );
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('REGISTRY_')));
  const child: ChildProcess = spawn('docker-registry', ['serve', join(dir, 'config.yml')], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env,
  });
  let log = '';
  child.stderr?.on('data', (b: Buffer) => {
    log = (log + b.toString()).slice(-8192);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let dead = false;
  void exited.then(() => {
    dead = true;
  });
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    process.off('exit', kill);
    if (!dead) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(`token registry on ${port}`, async () => {
      if (dead) throw new Error(`docker-registry exited:\n${log}`);
      return registryAnswers(url);
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return { host: `127.0.0.1:${port}`, url, stop };
}
