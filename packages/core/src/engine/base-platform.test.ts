import { describe, expect, it } from 'vitest';
import { emptyImage } from '../image/empty.js';
import { parsePlatform } from '../oci/index.js';
import { assertBasePlatform } from './base-platform.js';

describe('a base image for another platform', () => {
  const amd64 = emptyImage(parsePlatform('linux/amd64'));

  it('is refused, naming the platform it is for and the one asked', async () => {
    for (const asked of ['linux/arm64', 'linux/s390x', 'windows/amd64']) {
      await expect(assertBasePlatform(amd64, parsePlatform(asked), 'busybox')).rejects.toMatchObject({
        code: 'ENGINE_BASE_PLATFORM',
        message: `base image busybox is for linux/amd64 only, not ${asked}`,
      });
    }
  });

  it('is accepted when it runs as the platform asked (same arch, a compatible variant)', async () => {
    await expect(assertBasePlatform(amd64, parsePlatform('linux/amd64'), 'b')).resolves.toBe(amd64);
    const armV6 = emptyImage(parsePlatform('linux/arm/v6'));
    await expect(assertBasePlatform(armV6, parsePlatform('linux/arm/v7'), 'b')).resolves.toBe(armV6);
    await expect(assertBasePlatform(armV6, parsePlatform('linux/arm64'), 'b')).rejects.toThrow(
      /linux\/arm\/v6/,
    );
  });
});
