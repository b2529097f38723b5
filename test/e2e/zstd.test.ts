// Issue 21, zstd layers: an image built with `--compression zstd` is pushed to the real docker-registry,
// read by skopeo (which reads zstd; umoci 0.4.7 does not), converted by `skopeo copy
// --dest-compress-format gzip` to a layout that umoci unpacks to the same files as wharf's own gzip
// build of the same context, and used as a base (FROM and COPY --from) by a second wharf build with an
// empty cache, which reads the zstd layer through the zstd program on Node < 22.15. A docker-archive
// of a zstd build holds plain tars, so docker 20.10 (no zstd) loads it.
import { createHash } from 'node:crypto';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wharfAsync } from '../helpers/cli.js';
import { docker } from '../helpers/docker.js';
import { noDocker } from '../helpers/env.js';
import { tempDir } from '../helpers/paths.js';
import { type Registry, startRegistry } from '../helpers/registry.js';
import { requireTool, skopeoCopy, skopeoInspect, umociUnpack } from '../helpers/tools.js';

const ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';
const GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';

interface Manifest {
  config: { digest: string };
  layers: { mediaType: string; digest: string; size: number }[];
}

/** The single manifest of an OCI layout. */
function layoutManifest(layout: string): Manifest {
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
  const digest: string = index.manifests[0].digest;
  return JSON.parse(readFileSync(join(layout, 'blobs/sha256', digest.slice(7)), 'utf8'));
}

/** Every path under `root`: type, mode, and content digest or link target. */
function treeOf(root: string): Record<string, string> {
  const tree: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const st = lstatSync(path);
      const mode = (st.mode & 0o7777).toString(8);
      const key = relative(root, path);
      if (st.isSymbolicLink()) tree[key] = `link ${readlinkSync(path)}`;
      else if (st.isDirectory()) {
        tree[key] = `dir ${mode}`;
        walk(path);
      } else tree[key] = `file ${mode} ${createHash('sha256').update(readFileSync(path)).digest('hex')}`;
    }
  };
  walk(root);
  return tree;
}

/** `size` bytes that compress like text (so zstd and gzip sizes say something). */
function textLike(size: number): Buffer {
  const line = (i: number) => `line ${i}: ${'abcdefghij'.repeat((i % 7) + 1)} ${(i * 2654435761) >>> 0}\n`;
  const parts: string[] = [];
  let length = 0;
  for (let i = 0; length < size; i++) {
    const text = line(i);
    parts.push(text);
    length += text.length;
  }
  return Buffer.from(parts.join('')).subarray(0, size);
}

describe.skipIf(noDocker())('zstd layers: push, skopeo, umoci, and as a base', () => {
  let registry: Registry;
  let work: string;
  let context: string;

  const build = async (args: readonly string[], env: NodeJS.ProcessEnv = {}) => {
    const result = await wharfAsync(['build', '--progress', 'quiet', ...args], { env });
    expect(result.code, result.stderr).toBe(0);
    return result.stdout.trim();
  };

  beforeAll(async () => {
    registry = await startRegistry();
  });
  afterAll(async () => {
    await registry?.stop();
  });

  beforeAll(() => {
    work = tempDir('wharf-zstd-');
    context = join(work, 'context');
    const file = (path: string, content: string | Buffer, mode = 0o644) => {
      mkdirSync(dirname(join(context, path)), { recursive: true });
      writeFileSync(join(context, path), content);
      chmodSync(join(context, path), mode);
    };
    file('hello.txt', 'hello from a zstd layer\n');
    file('src/index.js', 'console.log("hi");\n');
    file('src/lib/util.js', textLike(300_000).toString());
    file('bin/run.sh', '#!/bin/sh\necho run\n', 0o755);
    file('data/big.txt', textLike(3 * 1024 * 1024));
    symlinkSync('index.js', join(context, 'src/main.js')); // kept as a link inside a copied folder
    file('extra.txt', 'added on top of the zstd base\n');
    file('Dockerfile', 'FROM scratch\nCOPY hello.txt /app/\nCOPY src /app/src\nCOPY bin data /app/\n');
  });

  it('pushes zstd layers that skopeo converts to gzip and umoci unpacks to the same files as a gzip build', async () => {
    requireTool('skopeo');
    requireTool('umoci');
    const cache = join(work, 'cache');
    const ref = `${registry.host}/wharf/zstd:v1`;
    const zstdLayout = join(work, 'wharf-zstd');
    const zstdDigest = await build([
      '--cache-dir',
      cache,
      '-f',
      join(context, 'Dockerfile'),
      '--compression',
      'zstd',
      '-t',
      ref,
      '--push',
      '-o',
      `type=oci,dest=${zstdLayout}`,
      context,
    ]);
    const built = layoutManifest(zstdLayout);
    expect(built.layers.map((l) => l.mediaType)).toEqual([ZSTD, ZSTD, ZSTD]);

    // the registry holds the same manifest; skopeo reads it and copies it as it is
    const pushed = await skopeoInspect(`docker://${ref}`, { raw: true });
    expect((pushed as unknown as Manifest).layers.map((l) => l.mediaType)).toEqual([ZSTD, ZSTD, ZSTD]);
    expect((await skopeoInspect(`docker://${ref}`)).Digest).toBe(zstdDigest);
    const copied = join(work, 'skopeo-zstd');
    await skopeoCopy(`docker://${ref}`, `oci:${copied}:v1`);
    expect(layoutManifest(copied).layers).toEqual(built.layers);

    // skopeo decompresses every layer to recompress it: the tars are the ones the config names
    const converted = join(work, 'skopeo-gzip');
    await skopeoCopy(`docker://${ref}`, `oci:${converted}:v1`, ['--dest-compress-format', 'gzip']);
    const gz = layoutManifest(converted);
    expect(gz.layers.map((l) => l.mediaType)).toEqual([GZIP, GZIP, GZIP]);
    expect(gz.config.digest).toBe(built.config.digest); // same diff_ids: same tars

    // wharf's own gzip build of the same context (the default compression), unpacked by umoci too
    const gzipLayout = join(work, 'wharf-gzip');
    await build([
      '--cache-dir',
      cache,
      '-f',
      join(context, 'Dockerfile'),
      '-t',
      'wharf-test/zstd-gzip:v1',
      '-o',
      `type=oci,dest=${gzipLayout}`,
      context,
    ]);
    const own = layoutManifest(gzipLayout);
    expect(own.layers.map((l) => l.mediaType)).toEqual([GZIP, GZIP, GZIP]);
    expect(own.config.digest).toBe(built.config.digest);
    const fromSkopeo = await umociUnpack(`${converted}:v1`, join(work, 'unpacked-skopeo'));
    const fromWharf = await umociUnpack(`${gzipLayout}:v1`, join(work, 'unpacked-wharf'));
    const tree = treeOf(join(fromWharf, 'rootfs'));
    expect(tree['app/run.sh']).toMatch(/^file 755 /);
    expect(tree['app/src/main.js']).toBe('link index.js');
    expect(treeOf(join(fromSkopeo, 'rootfs'))).toEqual(tree);
  });

  it('builds FROM the pushed zstd image (and COPY --from it) with an empty cache', async () => {
    requireTool('skopeo');
    requireTool('umoci');
    const base = `${registry.host}/wharf/zstd:v1`;
    const derived = join(work, 'derived');
    writeFileSync(
      join(context, 'Dockerfile.derived'),
      `FROM ${base}\nCOPY --from=${base} /app/hello.txt /copied/hello.txt\nCOPY extra.txt /extra/\n`,
    );
    const digest = await build([
      '--cache-dir',
      join(work, 'cache-derived'),
      '-f',
      join(context, 'Dockerfile.derived'),
      '-t',
      `${registry.host}/wharf/derived:v1`,
      '--push',
      '-o',
      `type=oci,dest=${derived}`,
      context,
    ]);
    const manifest = layoutManifest(derived);
    // base layers are distributed as they came (zstd); new ones get the default, gzip
    expect(manifest.layers.map((l) => l.mediaType)).toEqual([ZSTD, ZSTD, ZSTD, GZIP, GZIP]);
    expect((await skopeoInspect(`docker://${registry.host}/wharf/derived:v1`)).Digest).toBe(digest);
    const converted = join(work, 'derived-gzip');
    await skopeoCopy(`oci:${derived}:v1`, `oci:${converted}:v1`, ['--dest-compress-format', 'gzip']);
    const tree = treeOf(join(await umociUnpack(`${converted}:v1`, join(work, 'unpacked-derived')), 'rootfs'));
    const hello = `file 644 ${createHash('sha256').update('hello from a zstd layer\n').digest('hex')}`;
    expect(tree['app/hello.txt']).toBe(hello);
    expect(tree['copied/hello.txt']).toBe(hello);
    expect(tree['extra/extra.txt']).toMatch(/^file 644 /);
  });

  it('writes a docker-archive of a zstd build as plain tars, which docker 20.10 loads', async () => {
    const archive = join(work, 'docker.tar');
    await build([
      '--cache-dir',
      join(work, 'cache'),
      '-f',
      join(context, 'Dockerfile'),
      '--compression',
      'zstd',
      '-t',
      'wharf-test/zstd-docker:v1',
      '-o',
      `type=docker-archive,dest=${archive}`,
      context,
    ]);
    await docker(['load', '-i', archive]);
    const history = await docker([
      'image',
      'inspect',
      '--format',
      '{{len .RootFS.Layers}}',
      'wharf-test/zstd-docker:v1',
    ]);
    expect(history.trim()).toBe('3');
    await docker(['rmi', 'wharf-test/zstd-docker:v1']);
    // and compression= on a docker-archive is refused with the reason
    const refused = await wharfAsync([
      'build',
      '-f',
      join(context, 'Dockerfile'),
      '-o',
      `type=docker-archive,dest=${archive},compression=zstd`,
      context,
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/holds uncompressed layers[\s\S]*docker 20\.10 cannot read zstd/);
  });

  it('says how to fix a missing zstd program before any work', async () => {
    const bin = join(work, 'bin-without-zstd'); // PATH: only node, no zstd
    mkdirSync(bin);
    symlinkSync(process.execPath, join(bin, 'node'));
    const result = await wharfAsync(
      [
        'build',
        '--cache-dir',
        join(work, 'cache'),
        '-f',
        join(context, 'Dockerfile'),
        '--compression',
        'zstd,level=5',
        '-o',
        `type=oci,dest=${join(work, 'never')}`,
        context,
      ],
      { env: { PATH: bin } },
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /cannot compress layers with zstd: no zstd program on PATH[\s\S]*hint: install zstd \(apt install zstd\)/,
    );
    expect(() => lstatSync(join(work, 'never'))).toThrow();
  });
});
