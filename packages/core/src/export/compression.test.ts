import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readOciArchive } from '../archive/oci-archive.js';
import { build } from '../build.js';
import { stage } from '../dsl/stage.js';
import { MediaType } from '../oci/index.js';
import { buildCompression, parseCompression } from './compression.js';
import { parseOutput } from './output.js';

describe('layer compression flags', () => {
  it('parses --compression and fills in the level', () => {
    expect(parseCompression('zstd')).toEqual({ format: 'zstd', level: 3 });
    expect(parseCompression('zstd,level=19')).toEqual({ format: 'zstd', level: 19 });
    expect(parseCompression('GZIP')).toEqual({ format: 'gzip', level: 6 });
    expect(parseCompression('gzip,level=1')).toEqual({ format: 'gzip', level: 1 });
  });

  it.each([
    ['brotli', /unknown compression "brotli"/],
    ['zstd,level=0', /zstd level 0 is out of range/],
    ['zstd,level=20', /zstd level 20 is out of range/],
    ['gzip,level=10', /gzip level 10 is out of range/],
    ['zstd,level=x', /level "x" is not a number/],
    ['zstd,fast', /"fast" is not level=N/],
    ['zstd,level=3,level=4', /"level=4" is not level=N/],
  ])('refuses %s with one line naming the input', (input, message) => {
    expect(() => parseCompression(input)).toThrow(
      expect.objectContaining({ code: 'EXPORT_INVALID_OUTPUT', message: expect.stringMatching(message) }),
    );
  });

  it('reads compression= and compression-level= in -o (BuildKit keys)', () => {
    expect(parseOutput('type=oci,dest=out,compression=zstd')).toEqual({
      type: 'oci',
      dest: 'out',
      names: [],
      compression: { format: 'zstd', level: 3 },
    });
    expect(parseOutput('type=registry,compression=zstd,compression-level=9')).toMatchObject({
      compression: { format: 'zstd', level: 9 },
    });
    expect(parseOutput('type=oci,dest=x.tar,tar=true,compression=gzip')).toMatchObject({
      type: 'oci-archive',
      compression: { format: 'gzip', level: 6 },
    });
    expect(() => parseOutput('type=oci,dest=out,compression-level=9')).toThrow(/needs compression=/);
    expect(() => parseOutput('type=oci,dest=out,compression=lz4')).toThrow(/unknown compression "lz4"/);
  });

  it('refuses compression= on a docker-archive: it holds tars (docker 20.10 cannot read zstd)', () => {
    for (const spec of [
      'type=docker-archive,dest=x.tar,compression=zstd',
      'type=docker,dest=x.tar,compression=gzip',
    ]) {
      expect(() => parseOutput(spec)).toThrow(
        expect.objectContaining({
          code: 'EXPORT_UNSUPPORTED',
          hint: expect.stringContaining('docker 20.10'),
        }),
      );
    }
  });

  it('resolves one compression per build from the flag and the outputs', () => {
    const oci = parseOutput('type=oci,dest=out');
    const zstd = parseOutput('type=oci-archive,dest=x.tar,compression=zstd');
    const docker = parseOutput('type=docker-archive,dest=d.tar');
    expect(buildCompression(undefined, [oci, docker])).toBeUndefined();
    expect(buildCompression('zstd', [oci, docker])).toEqual({ format: 'zstd', level: 3 });
    expect(buildCompression(undefined, [oci, zstd, docker])).toEqual({ format: 'zstd', level: 3 });
    expect(buildCompression({ format: 'zstd' }, [zstd])).toEqual({ format: 'zstd', level: 3 });
    expect(() => buildCompression('gzip', [zstd])).toThrow(
      expect.objectContaining({
        code: 'EXPORT_INVALID_OUTPUT',
        message: 'type=oci-archive asks for zstd level 3, but --compression for gzip level 6',
      }),
    );
    expect(() =>
      buildCompression(undefined, [zstd, parseOutput('type=registry,compression=zstd,compression-level=5')]),
    ).toThrow(/type=registry asks for zstd level 5, but type=oci-archive for zstd level 3/);
  });

  it('build() writes zstd layers when an -o spec says compression=zstd, and refuses a conflicting option', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wharf-compression-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'hello.txt'), 'hi\n'.repeat(100));
    const app = stage('app').from('scratch').copy('hello.txt', '/hello.txt');
    const dest = join(dir, 'out.tar');
    const common = { contextDir: dir, cacheDir: join(dir, 'cache') };
    const result = await build(app, { ...common, output: `type=oci-archive,dest=${dest},compression=zstd` });
    const image = await readOciArchive(dest);
    expect(await image.digest()).toBe(result.digest);
    expect((await image.manifest()).layers.map((l) => l.mediaType)).toEqual([MediaType.ociLayerZstd]);
    await expect(
      build(app, {
        ...common,
        compression: { format: 'gzip' },
        output: `type=oci,dest=${dir}/x,compression=zstd`,
      }),
    ).rejects.toMatchObject({ code: 'EXPORT_INVALID_OUTPUT' });
    // the docker backend writes what docker save gives: zstd is refused, before docker is run
    await expect(
      build(app, { ...common, backend: 'docker', compression: { format: 'zstd' } }),
    ).rejects.toMatchObject({ code: 'ENGINE_COMPRESSION_BACKEND', hint: expect.stringContaining('direct') });
  });
});
