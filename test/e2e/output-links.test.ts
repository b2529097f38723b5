// Issue 21, outputs at link speed: a no-change rebuild into a new OCI layout directory hardlinks the
// layer blobs from the cache (same inodes) instead of copying them, and the layout still satisfies
// skopeo and umoci; a destination on another filesystem (a tmpfs mounted here) gets copies with the
// same digests.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wharfAsync } from '../helpers/cli.js';
import { tempDir } from '../helpers/paths.js';
import { requireTool, skopeoInspect, umociUnpack } from '../helpers/tools.js';

const NAME = 'wharf-test/output-links:v1';
const BIG = Buffer.alloc(2 * 1024 * 1024);
for (let i = 0; i < BIG.length; i++) BIG[i] = (i * 7919 + (i >> 9)) & 0xff;

let work: string;
let context: string;
let cache: string;
let tmpfs: string;
let mounted = false;

async function build(dest: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const result = await wharfAsync(
    ['build', '--progress', 'quiet', '--cache-dir', cache, '-f', join(context, 'Dockerfile'), context].concat(
      ['-t', NAME, '-o', `type=oci,dest=${dest}`],
    ),
    { env },
  );
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return result.stdout.trim();
}

/** The layer blobs of the layout's single manifest, as paths. */
function layerBlobs(layout: string): string[] {
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
  const manifestDigest: string = index.manifests[0].digest;
  const manifest = JSON.parse(readFileSync(join(layout, 'blobs/sha256', manifestDigest.slice(7)), 'utf8'));
  return manifest.layers.map((l: { digest: string }) => join(layout, 'blobs/sha256', l.digest.slice(7)));
}

const inode = (path: string) => statSync(path).ino;
const cached = (blob: string) => join(cache, 'blobs/sha256', blob.split('/').pop() as string);

describe('outputs at link speed', () => {
  beforeAll(() => {
    work = tempDir('wharf-output-links-');
    context = join(work, 'context');
    cache = join(work, 'cache');
    mkdirSync(context);
    writeFileSync(join(context, 'hello.txt'), 'hello from a linked layout\n');
    writeFileSync(join(context, 'big.bin'), BIG);
    writeFileSync(join(context, 'Dockerfile'), 'FROM scratch\nCOPY hello.txt /\nCOPY big.bin /data/\n');
    tmpfs = join(work, 'tmpfs');
    mkdirSync(tmpfs);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'wharf-test', tmpfs]);
    mounted = true;
  });

  afterAll(() => {
    if (mounted) execFileSync('umount', [tmpfs]);
    if (work && !process.env.WHARF_KEEP_TEMP) rmSync(work, { recursive: true, force: true });
  });

  it('links the layer blobs of a no-change rebuild, and skopeo and umoci accept the layout', async () => {
    requireTool('skopeo');
    requireTool('umoci');
    const first = await build(join(work, 'first'));
    const again = join(work, 'again');
    expect(await build(again)).toBe(first);
    const blobs = layerBlobs(again);
    expect(blobs).toHaveLength(2);
    for (const blob of blobs) {
      expect(inode(blob)).toBe(inode(cached(blob)));
      expect(statSync(blob).mode & 0o222).toBe(0); // read-only: a write would change the cache
    }
    const inspected = await skopeoInspect(`oci:${again}:v1`);
    expect(inspected.Digest).toBe(first);
    expect(inspected.Layers).toHaveLength(2);
    const bundle = await umociUnpack(`${again}:v1`, join(work, 'bundle'));
    expect(readFileSync(join(bundle, 'rootfs/hello.txt'), 'utf8')).toBe('hello from a linked layout\n');
    expect(readFileSync(join(bundle, 'rootfs/data/big.bin')).equals(BIG)).toBe(true);
    // WHARF_LAYOUT_COPY=1 still writes independent files, with the same digest
    const copied = join(work, 'copied');
    expect(await build(copied, { WHARF_LAYOUT_COPY: '1' })).toBe(first);
    for (const blob of layerBlobs(copied)) expect(inode(blob)).not.toBe(inode(cached(blob)));
  });

  it('copies to another filesystem (a tmpfs): same digests, new inodes, skopeo accepts it', async () => {
    const local = await build(join(work, 'local'));
    const elsewhere = join(tmpfs, 'layout');
    expect(statSync(tmpfs).dev).not.toBe(statSync(cache).dev);
    expect(await build(elsewhere)).toBe(local);
    for (const blob of layerBlobs(elsewhere)) {
      expect(inode(blob)).not.toBe(inode(cached(blob)));
      expect(readFileSync(blob).equals(readFileSync(cached(blob)))).toBe(true);
    }
    expect((await skopeoInspect(`oci:${elsewhere}:v1`)).Digest).toBe(local);
  });
});
