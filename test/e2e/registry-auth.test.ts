// Registry auth against the real docker-registry: TLS with a self-signed CA + htpasswd Basic auth, the
// Bearer token flow with an in-process token issuer, wharf login writing Docker's config format,
// credential helpers, and clear errors (with no secrets in them) for wrong passwords.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { openStore } from '@wharf/core/engine';
import { login, pullImage, pushImage, type RegistryError } from '@wharf/core/registry';
import { randomImage, validateImage } from '@wharf/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The low-level client is not part of the public API; the ping check needs it.
import { RegistryClient } from '../../packages/core/src/registry/index.js';
import { noDocker } from '../helpers/env.js';
import { writeHtpasswd } from '../helpers/htpasswd.js';
import { tempDir } from '../helpers/paths.js';
import { type Registry, startRegistry } from '../helpers/registry.js';
import { makeSelfSignedCA, type TestCA } from '../helpers/tls.js';
import {
  startTokenIssuer,
  startTokenRegistry,
  type TokenIssuer,
  type TokenRegistry,
} from '../helpers/token-issuer.js';
import { skopeoInspect } from '../helpers/tools.js';

const PASSWORD = 's3cret-Pa55word!';

async function rejection(promise: Promise<unknown>): Promise<RegistryError> {
  try {
    await promise;
  } catch (error) {
    return error as RegistryError;
  }
  throw new Error('expected a rejection');
}

/** Asserts that no form of the password appears in an error's text. */
function expectNoSecret(error: Error): void {
  const text = `${error.message}\n${(error as RegistryError).hint ?? ''}\n${String(error.cause ?? '')}`;
  expect(text).not.toContain(PASSWORD);
  expect(text).not.toContain(Buffer.from(`alice:${PASSWORD}`).toString('base64'));
}

describe.skipIf(noDocker())('registry auth: TLS + htpasswd Basic', () => {
  let registry: Registry;
  let ca: TestCA;
  beforeAll(async () => {
    const dir = tempDir();
    ca = await makeSelfSignedCA(dir);
    const htpasswd = await writeHtpasswd(join(dir, 'htpasswd'), { alice: PASSWORD });
    registry = await startRegistry({ tls: { certFile: ca.certFile, keyFile: ca.keyFile }, htpasswd });
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('pushes and pulls over HTTPS with the test CA and Basic credentials', async () => {
    const image = await randomImage(2, { bytes: 2048 });
    const ref = `${registry.host}/secure/app:1`;
    const credentials = { username: 'alice', password: PASSWORD };
    const result = await pushImage(image, ref, { caFile: ca.caFile, credentials, configFile: false });
    expect(result.digest).toBe(await image.digest());
    const info = await skopeoInspect(`docker://${ref}`).catch(() => undefined); // needs creds: expected to fail
    expect(info).toBeUndefined();
    const store = await openStore({ root: tempDir() });
    const pulled = await pullImage(ref, { store, caFile: ca.caFile, credentials });
    expect(pulled.digest).toBe(result.digest);
    await validateImage(pulled.image);
  });

  it('refuses a certificate it cannot verify (no CA given) with REGISTRY_TLS, never falling back to HTTP', async () => {
    const error = await rejection(new RegistryClient(registry.host, { retry: { attempts: 1 } }).ping());
    expect(error.code).toBe('REGISTRY_TLS');
    expect(error.hint).toMatch(/CA/);
  });

  it('wrong password: REGISTRY_UNAUTHORIZED naming registry, repository and operation, without the secret', async () => {
    const image = await randomImage(1, { bytes: 100 });
    const error = await rejection(
      pushImage(image, `${registry.host}/secure/app:bad`, {
        caFile: ca.caFile,
        credentials: { username: 'alice', password: `${PASSWORD}-wrong` },
      }),
    );
    expect(error.code).toBe('REGISTRY_UNAUTHORIZED');
    expect(error.message).toContain(registry.host);
    expect(error.message).toContain('secure/app');
    expect(error.hint).toContain('wharf login');
    expectNoSecret(error);
    const loginError = await rejection(
      login(registry.host, 'alice', 'nope', { caFile: ca.caFile, configDir: tempDir() }),
    );
    expect(loginError.code).toBe('REGISTRY_UNAUTHORIZED');
    expect(loginError.message).toMatch(/wrong username or password/);
  });

  it('login verifies and writes base64 auths to config.json; later pushes read it', async () => {
    const configDir = tempDir();
    const saved = await login(registry.host, 'alice', PASSWORD, { caFile: ca.caFile, configDir });
    expect(saved.file).toBe(join(configDir, 'config.json'));
    const config = JSON.parse(readFileSync(join(configDir, 'config.json'), 'utf8')) as {
      auths: Record<string, { auth: string }>;
    };
    expect(Buffer.from(config.auths[registry.host]?.auth ?? '', 'base64').toString()).toBe(
      `alice:${PASSWORD}`,
    );
    const image = await randomImage(1, { bytes: 100 });
    const result = await pushImage(image, `${registry.host}/secure/from-config:1`, {
      caFile: ca.caFile,
      configDir,
    });
    expect(result.stats.uploaded).toBe(2);
    // DOCKER_CONFIG works the same way.
    const viaEnv = await pushImage(image, `${registry.host}/secure/from-config:2`, {
      caFile: ca.caFile,
      env: { ...process.env, DOCKER_CONFIG: configDir },
    });
    expect(viaEnv.digest).toBe(result.digest);
  });

  it('reads credentials from a docker-credential-* helper on PATH, and login stores through it', async () => {
    const bin = tempDir();
    const secrets = tempDir();
    const helper = join(bin, 'docker-credential-wharftest');
    // A tiny credential helper: one file per server URL in $WHARF_TEST_CRED_DIR.
    writeFileSync(
      helper,
      [
        '#!/bin/sh',
        'set -e',
        'dir="$WHARF_TEST_CRED_DIR"',
        'case "$1" in',
        '  get) server=$(cat); f="$dir/$(printf %s "$server" | tr -c "A-Za-z0-9" _)";',
        '       if [ -f "$f" ]; then cat "$f"; else echo "credentials not found in native keychain"; exit 1; fi ;;',
        '  store) json=$(cat); server=$(printf %s "$json" | sed -e \'s/.*"ServerURL":"\\([^"]*\\)".*/\\1/\');',
        '       printf %s "$json" > "$dir/$(printf %s "$server" | tr -c "A-Za-z0-9" _)" ;;',
        '  *) exit 1 ;;',
        'esac',
        '',
      ].join('\n'),
    );
    chmodSync(helper, 0o755);
    const configDir = tempDir();
    writeFileSync(join(configDir, 'config.json'), JSON.stringify({ credsStore: 'wharftest' }));
    const env = {
      ...process.env,
      PATH: `${bin}${delimiter}${process.env.PATH}`,
      WHARF_TEST_CRED_DIR: secrets,
    };
    const saved = await login(registry.host, 'alice', PASSWORD, { caFile: ca.caFile, configDir, env });
    expect(saved.helper).toBe('wharftest');
    const config = readFileSync(join(configDir, 'config.json'), 'utf8');
    expect(config).not.toContain(Buffer.from(`alice:${PASSWORD}`).toString('base64'));
    const image = await randomImage(1, { bytes: 100 });
    const result = await pushImage(image, `${registry.host}/secure/helper:1`, {
      caFile: ca.caFile,
      configDir,
      env,
    });
    expect(result.stats.uploaded).toBe(2);

    // credHelpers wins over auths for its registry.
    mkdirSync(join(configDir, 'other'), { recursive: true });
    writeFileSync(
      join(configDir, 'other', 'config.json'),
      JSON.stringify({
        auths: { [registry.host]: { auth: Buffer.from('alice:wrong').toString('base64') } },
        credHelpers: { [registry.host]: 'wharftest' },
      }),
    );
    const viaHelper = await pushImage(image, `${registry.host}/secure/helper:2`, {
      caFile: ca.caFile,
      configDir: join(configDir, 'other'),
      env,
    });
    expect(viaHelper.digest).toBe(result.digest);
  });
});

describe.skipIf(noDocker())('registry auth: Bearer tokens from an auth server', () => {
  let issuer: TokenIssuer;
  let registry: TokenRegistry;
  beforeAll(async () => {
    issuer = await startTokenIssuer(tempDir(), {
      users: { alice: PASSWORD, reader: 'read-only-pw' },
      pushable: { reader: [] },
    });
    registry = await startTokenRegistry(issuer);
  });
  afterAll(async () => {
    await registry?.stop();
    await issuer?.stop();
  });

  it('pushes and pulls with tokens scoped per repository, fetched once per scope and reused', async () => {
    const image = await randomImage(3, { bytes: 4096 });
    const credentials = { username: 'alice', password: PASSWORD };
    issuer.requests.length = 0;
    const ref = `${registry.host}/team/app:1`;
    const result = await pushImage(image, ref, { credentials });
    expect(result.stats.uploaded).toBe(4);
    // One token for repository:team/app:pull,push, shared by the concurrent blob uploads.
    expect(issuer.requests).toHaveLength(1);
    expect(issuer.requests[0]?.scopes).toEqual(['repository:team/app:pull,push']);
    expect(issuer.requests[0]?.service).toBe(issuer.service);

    const store = await openStore({ root: tempDir() });
    const pulled = await pullImage(ref, { store, credentials });
    expect(pulled.digest).toBe(result.digest);
    expect(issuer.requests.at(-1)?.scopes).toEqual(['repository:team/app:pull']);
  });

  it('mounts across repositories with a token that also has pull on the source', async () => {
    const image = await randomImage(2, { bytes: 4096 });
    const credentials = { username: 'alice', password: PASSWORD };
    await pushImage(image, `${registry.host}/team/base:1`, { credentials });
    issuer.requests.length = 0;
    const result = await pushImage(image, `${registry.host}/team/copy:1`, {
      credentials,
      mountFrom: ['team/base'],
    });
    expect(result.stats.mounted).toBe(3);
    expect(issuer.requests.map((r) => r.scopes.join(' '))).toContain(
      'repository:team/base:pull repository:team/copy:pull,push',
    );
  });

  it('login gets a token with the credentials; a wrong password is REGISTRY_UNAUTHORIZED from the auth server', async () => {
    const configDir = tempDir();
    await login(registry.host, 'alice', PASSWORD, { configDir });
    const error = await rejection(login(registry.host, 'alice', 'wrong-password', { configDir: tempDir() }));
    expect(error.code).toBe('REGISTRY_UNAUTHORIZED');
    expect(error.message).toContain(registry.host);
    expect(error.message).not.toContain('wrong-password');
  });

  it('a user without push access gets REGISTRY_UNAUTHORIZED or REGISTRY_DENIED naming the repository', async () => {
    const image = await randomImage(1, { bytes: 100 });
    const error = await rejection(
      pushImage(image, `${registry.host}/team/app:reader`, {
        credentials: { username: 'reader', password: 'read-only-pw' },
      }),
    );
    expect(['REGISTRY_UNAUTHORIZED', 'REGISTRY_DENIED']).toContain(error.code);
    expect(error.message).toContain('team/app');
  });

  it('anonymous access is refused with a hint to log in', async () => {
    const error = await rejection(
      pullImage(`${registry.host}/team/app:1`, {
        store: await openStore({ root: tempDir() }),
        configFile: false,
        env: { HOME: tempDir() },
      }),
    );
    expect(error.code).toBe('REGISTRY_UNAUTHORIZED');
    expect(error.hint).toContain('wharf login');
  });
});
