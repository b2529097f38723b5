import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { collectPlatforms, parsePlatformFlag } from './flags.js';

describe('--platform', () => {
  it('keeps every value of a comma list and of a repeated flag, never only the last', () => {
    const once = collectPlatforms('linux/amd64,linux/arm64');
    const twice = collectPlatforms('linux/s390x', once);
    expect(twice.map((p) => `${p.os}/${p.architecture}`)).toEqual([
      'linux/amd64',
      'linux/arm64',
      'linux/s390x',
    ]);
  });

  it('rejects garbage as a usage error naming the value', () => {
    expect(() => collectPlatforms('garbage')).toThrow(InvalidArgumentError);
    expect(() => collectPlatforms('linux/amd64,linux/nonsense')).toThrow(/nonsense/);
  });

  it('builds one platform; several fail naming each and the fix', () => {
    expect(parsePlatformFlag(undefined)).toBeUndefined();
    expect(parsePlatformFlag(collectPlatforms('linux/arm64'))?.architecture).toBe('arm64');
    // The same platform twice is one platform.
    expect(parsePlatformFlag(collectPlatforms('linux/arm64,linux/aarch64'))?.architecture).toBe('arm64');
    let error: unknown;
    try {
      parsePlatformFlag(collectPlatforms('linux/amd64,linux/arm64'));
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'CLI_MULTI_PLATFORM' });
    expect(String((error as Error).message)).toContain('linux/amd64,linux/arm64');
    expect((error as { hint: string }).hint).toContain('--platform linux/arm64');
  });
});
