// `wharf inspect` of what `wharf build` wrote: the config with its HEALTHCHECK, and sizes in SI units
// (1 MB = 10⁶ bytes), as docker and the build's own output count them.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { wharfAsync } from '../helpers/cli.js';
import { tempDir } from '../helpers/paths.js';

describe('wharf inspect', () => {
  it('shows the healthcheck and SI sizes of an oci-archive', async () => {
    const dir = tempDir();
    // 1.5 × 10⁶ random bytes do not compress: the layer is 1.5 MB (it would be 1.4 MiB).
    writeFileSync(join(dir, 'blob.bin'), randomBytes(1_500_000));
    writeFileSync(
      join(dir, 'Dockerfile'),
      [
        'FROM scratch',
        'COPY blob.bin /blob.bin',
        'HEALTHCHECK --interval=30s --timeout=3s --retries=3 CMD ["/check", "--quick"]',
        'CMD ["/blob.bin"]',
        '',
      ].join('\n'),
    );
    const archive = join(dir, 'image.tar');
    const built = await wharfAsync([
      'build',
      '--progress',
      'quiet',
      '--lint',
      'off',
      '--cache-dir',
      join(dir, 'cache'),
      '-f',
      join(dir, 'Dockerfile'),
      dir,
      '-o',
      `type=oci-archive,dest=${archive}`,
    ]);
    expect(built.code, built.stderr).toBe(0);
    const result = await wharfAsync(['inspect', archive]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(
      'Healthcheck:  --interval=30s --timeout=3s --retries=3 CMD ["/check","--quick"]\n',
    );
    expect(result.stdout).toMatch(/^Layers: +1 \(1\.5 MB compressed\)$/m);
    expect(result.stdout).toMatch(/^ {2}sha256:[0-9a-f]{64} +1\.5 MB {2}COPY blob\.bin \/blob\.bin$/m);
    expect(result.stdout).not.toMatch(/MiB|1\.4 MB/);
  });
});
