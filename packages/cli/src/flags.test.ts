import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { collectPlatforms } from './flags.js';

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
});
