import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { normaliseRegistryKey } from './auth/credentials.js';
import { parseUploadRange } from './client.js';
import { allowsPlainHttp, apiHost, isLoopback, registrySettings } from './settings.js';

describe('endpoints', () => {
  it('maps docker.io to registry-1.docker.io and leaves other registries alone', () => {
    expect(apiHost('docker.io')).toBe('registry-1.docker.io');
    expect(apiHost('ghcr.io')).toBe('ghcr.io');
    expect(apiHost('127.0.0.1:5000')).toBe('127.0.0.1:5000');
  });

  it('allows plain HTTP only for loopback and listed insecure registries', () => {
    for (const host of ['localhost:5000', '127.0.0.1:5000', '127.1.2.3', '[::1]:5000', 'localhost'])
      expect(isLoopback(host), host).toBe(true);
    for (const host of ['10.0.0.1:5000', 'registry.lan', '128.0.0.1'])
      expect(isLoopback(host), host).toBe(false);
    expect(allowsPlainHttp('registry.lan:5000', [])).toBe(false);
    expect(allowsPlainHttp('registry.lan:5000', ['http://registry.lan:5000/'])).toBe(true);
  });

  it('normalises Docker config keys', () => {
    expect(normaliseRegistryKey('https://index.docker.io/v1/')).toBe('docker.io');
    expect(normaliseRegistryKey('http://127.0.0.1:5000/v2/')).toBe('127.0.0.1:5000');
    expect(normaliseRegistryKey('GHCR.io')).toBe('ghcr.io');
  });

  it('reads upload ranges', () => {
    expect(parseUploadRange('0-1023')).toBe(1024);
    expect(parseUploadRange('bytes=0-9')).toBe(10);
    expect(parseUploadRange(undefined)).toBeUndefined();
  });
});

describe('registrySettings', () => {
  it('takes mirrors from the option, else the variable, else the config file; insecure lists merge', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wharf-settings-'));
    const file = join(dir, 'config.json');
    writeFileSync(
      file,
      JSON.stringify({
        registryMirrors: ['http://file-mirror/'],
        insecureRegistries: ['a:1'],
        caFile: '/ca.pem',
      }),
    );
    const env = { WHARF_CONFIG: file, WHARF_INSECURE_REGISTRIES: 'b:2' };
    expect(registrySettings({ env })).toEqual({
      mirrors: ['http://file-mirror'],
      insecure: ['b:2', 'a:1'],
      caFiles: ['/ca.pem'],
      timeoutMs: 30_000,
    });
    expect(registrySettings({ env: { ...env, WHARF_REGISTRY_MIRROR: 'http://env-mirror' } }).mirrors).toEqual(
      ['http://env-mirror'],
    );
    expect(registrySettings({ env, mirrors: ['http://opt'] }).mirrors).toEqual(['http://opt']);
    expect(registrySettings({ env, configFile: false }).mirrors).toEqual([]);
  });

  it('takes the idle timeout from WHARF_REGISTRY_TIMEOUT (seconds) unless the option sets it', () => {
    const env = { WHARF_REGISTRY_TIMEOUT: '2.5' };
    expect(registrySettings({ env, configFile: false }).timeoutMs).toBe(2_500);
    expect(registrySettings({ env, configFile: false, timeoutMs: 700 }).timeoutMs).toBe(700);
    expect(() => registrySettings({ env: { WHARF_REGISTRY_TIMEOUT: 'soon' }, configFile: false })).toThrow(
      /WHARF_REGISTRY_TIMEOUT=soon is not a positive number of seconds/,
    );
    // 0 would switch the socket idle timeout off: refused, from the variable and from the option.
    expect(() => registrySettings({ env: { WHARF_REGISTRY_TIMEOUT: '0' }, configFile: false })).toThrow(
      /not a positive number/,
    );
    expect(() => registrySettings({ env: {}, configFile: false, timeoutMs: 0 })).toThrow(
      /the timeoutMs option \(seconds\)=0 is not a positive number of seconds/,
    );
  });

  it('refuses a mirror that is not an http(s) URL without printing its password', () => {
    const env = { WHARF_REGISTRY_MIRROR: 'ftp://user:hunter2pass@mirror' };
    const error = (() => {
      try {
        registrySettings({ env, configFile: false });
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    expect(error?.message).toMatch(/registry mirror ftp:\/\/user:\*\*\*@mirror is not an http\(s\) URL/);
    expect(error?.message).not.toContain('hunter2pass');
  });
});
