import { describe, expect, it } from 'vitest';
import { OciError } from './errors.js';
import {
  bestMatch,
  formatPlatform,
  hostPlatform,
  matchPlatform,
  normalizePlatform,
  parsePlatform,
} from './platform.js';
import type { Platform } from './types.js';

const p = (s: string): Platform => parsePlatform(s);

describe('parsePlatform', () => {
  it.each([
    ['linux/amd64', { os: 'linux', architecture: 'amd64' }],
    ['linux/arm64', { os: 'linux', architecture: 'arm64' }],
    ['linux/arm64/v8', { os: 'linux', architecture: 'arm64' }],
    ['linux/aarch64', { os: 'linux', architecture: 'arm64' }],
    ['linux/arm64/v8.2', { os: 'linux', architecture: 'arm64', variant: 'v8.2' }],
    ['linux/arm', { os: 'linux', architecture: 'arm', variant: 'v7' }],
    ['linux/arm/v7', { os: 'linux', architecture: 'arm', variant: 'v7' }],
    ['linux/arm/7', { os: 'linux', architecture: 'arm', variant: 'v7' }],
    ['linux/arm/6', { os: 'linux', architecture: 'arm', variant: 'v6' }],
    ['linux/armhf', { os: 'linux', architecture: 'arm', variant: 'v7' }],
    ['linux/armel', { os: 'linux', architecture: 'arm', variant: 'v6' }],
    ['linux/x86_64', { os: 'linux', architecture: 'amd64' }],
    ['linux/x86-64', { os: 'linux', architecture: 'amd64' }],
    ['linux/amd64/v1', { os: 'linux', architecture: 'amd64' }],
    ['linux/amd64/v3', { os: 'linux', architecture: 'amd64', variant: 'v3' }],
    ['linux/i386', { os: 'linux', architecture: '386' }],
    ['Linux/AMD64', { os: 'linux', architecture: 'amd64' }],
    ['windows/amd64', { os: 'windows', architecture: 'amd64' }],
    ['windows(10.0.17763)/amd64', { os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763' }],
    ['macos/arm64', { os: 'darwin', architecture: 'arm64' }],
    ['arm64', { os: 'linux', architecture: 'arm64' }],
    ['aarch64', { os: 'linux', architecture: 'arm64' }],
    ['linux/ppc64le', { os: 'linux', architecture: 'ppc64le' }],
    ['linux/s390x', { os: 'linux', architecture: 's390x' }],
    ['linux/riscv64', { os: 'linux', architecture: 'riscv64' }],
  ])('%s', (input, expected) => {
    expect(parsePlatform(input)).toEqual(expected);
  });

  it('a bare OS means the host architecture', () => {
    const host = hostPlatform();
    expect(parsePlatform('linux')).toEqual({ ...host, os: 'linux' });
  });

  it.each([
    ['', /empty/],
    ['linux/amd64/v8/extra', /too many/],
    ['linux/', /empty part/],
    ['linux//v7', /empty part/],
    ['linux/amd 64', /invalid characters/],
    ['lnux/amd64', /unknown operating system "lnux"/],
    ['linux/amd46', /unknown architecture "amd46"/],
    ['foo', /neither a known operating system nor a known architecture/],
  ])('rejects %j', (input, message) => {
    try {
      parsePlatform(input);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(OciError);
      const e = error as OciError;
      expect(e.code).toBe('OCI_INVALID_PLATFORM');
      expect(e.message).toMatch(message);
      expect(e.message).toContain(JSON.stringify(input));
      expect(e.hint).toMatch(/os\/arch/);
    }
  });
});

describe('formatPlatform and normalizePlatform', () => {
  it.each([
    ['linux/amd64', 'linux/amd64'],
    ['linux/arm64/v8', 'linux/arm64'],
    ['linux/arm', 'linux/arm/v7'],
    ['linux/arm64/v8.2', 'linux/arm64/v8.2'],
    ['windows(10.0.17763)/amd64', 'windows(10.0.17763)/amd64'],
  ])('%s → %s (and round-trips)', (input, formatted) => {
    expect(formatPlatform(p(input))).toBe(formatted);
    expect(p(formatPlatform(p(input)))).toEqual(p(input));
  });

  it('normalises platforms read from documents', () => {
    expect(normalizePlatform({ architecture: 'aarch64', os: 'Linux', variant: 'v8' })).toEqual({
      architecture: 'arm64',
      os: 'linux',
    });
    expect(normalizePlatform({ architecture: 'arm', os: 'linux' })).toEqual({
      architecture: 'arm',
      os: 'linux',
      variant: 'v7',
    });
    expect(normalizePlatform({ architecture: 'unknownarch', os: 'linux', 'os.features': [] })).toEqual({
      architecture: 'unknownarch',
      os: 'linux',
    });
  });
});

describe('hostPlatform', () => {
  it('maps Node names to OCI names', () => {
    const host = hostPlatform();
    const expected: Record<string, string> = { x64: 'amd64', arm64: 'arm64', ia32: '386' };
    if (expected[process.arch]) expect(host.architecture).toBe(expected[process.arch]);
    expect(host.os).toBe(process.platform === 'win32' ? 'windows' : process.platform);
    expect(() => parsePlatform(formatPlatform(host))).not.toThrow();
  });
});

describe('matchPlatform', () => {
  it.each([
    ['linux/arm64', 'linux/arm64/v8', true],
    ['linux/arm64/v8', 'linux/arm64', true],
    ['linux/arm64', 'linux/aarch64', true],
    ['linux/arm/v7', 'linux/arm/v7', true],
    ['linux/arm/v7', 'linux/arm/v6', true],
    ['linux/arm/v7', 'linux/arm/v5', true],
    ['linux/arm/v6', 'linux/arm/v7', false],
    ['linux/arm/v8', 'linux/arm/v7', true],
    ['linux/arm64/v8.2', 'linux/arm64/v8.1', true],
    ['linux/arm64/v8.2', 'linux/arm64', true],
    ['linux/arm64', 'linux/arm64/v8.2', false],
    ['linux/arm64/v9', 'linux/arm64/v8.5', true],
    ['linux/arm64/v9', 'linux/arm64/v8.6', false],
    ['linux/amd64/v3', 'linux/amd64/v2', true],
    ['linux/amd64/v3', 'linux/amd64', true],
    ['linux/amd64', 'linux/amd64/v3', false],
    ['linux/amd64', 'linux/386', false],
    ['linux/arm64', 'linux/arm/v7', false],
    ['linux/amd64', 'windows/amd64', false],
    ['windows(10.0.17763)/amd64', 'windows(10.0.17763.1234)/amd64', true],
    ['windows(10.0.17763)/amd64', 'windows(10.0.20348)/amd64', false],
    ['windows/amd64', 'windows(10.0.20348)/amd64', true],
  ])('wanted %s, candidate %s → %s', (wanted, candidate, expected) => {
    expect(matchPlatform(p(wanted), p(candidate))).toBe(expected);
  });

  it('compares unnormalised document platforms', () => {
    expect(matchPlatform(p('linux/arm64'), { architecture: 'arm64', os: 'linux', variant: 'v8' })).toBe(true);
    expect(matchPlatform(p('linux/amd64'), { architecture: 'x86_64', os: 'linux' })).toBe(true);
  });
});

describe('bestMatch', () => {
  it('prefers the exact match, then the nearest older variant, in order', () => {
    const list = ['linux/arm/v5', 'linux/arm/v6', 'linux/amd64', 'linux/arm64'].map(p);
    expect(bestMatch(list, p('linux/arm/v7'))).toEqual(p('linux/arm/v6'));
    expect(bestMatch([...list, p('linux/arm/v7')], p('linux/arm/v7'))).toEqual(p('linux/arm/v7'));
    expect(bestMatch(list, p('linux/arm/v6'))).toEqual(p('linux/arm/v6'));
    expect(bestMatch(list, p('linux/arm64/v8'))).toEqual(p('linux/arm64'));
    expect(bestMatch(list, p('linux/s390x'))).toBeUndefined();
  });

  it('picks index descriptors by their platform and skips entries without one', () => {
    const entries = [
      { digest: 'a', platform: { architecture: 'amd64', os: 'linux' } },
      { digest: 'attestation' },
      { digest: 'b', platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } },
      { digest: 'c', platform: { architecture: 'arm64', os: 'linux' } },
    ];
    expect(bestMatch(entries, p('linux/arm64'))?.digest).toBe('b');
    expect(bestMatch(entries, p('linux/amd64/v2'))?.digest).toBe('a');
    expect(bestMatch(entries, p('windows/amd64'))).toBeUndefined();
  });
});
