// Operations that used to end in "internal error: …", a silent exit or a replaced device node: a full
// disk, permissions, a read-only filesystem, a device node as the destination, a build.ts whose top-level
// await never settles. Each now exits 1 with one `wharf:` line naming the path (then only a hint), and
// leaves nothing behind. See docs/security/signals.md.
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type CliResult, wharfAsync } from '../helpers/cli.js';
import { noDocker, testEnv } from '../helpers/env.js';
import { tempDir } from '../helpers/paths.js';

const context = tempDir('wharf-errors-ctx-');
chmodSync(context, 0o755); // readable for the EACCES case, which runs as nobody
writeFileSync(join(context, 'Dockerfile'), 'FROM busybox\nCOPY file.txt /file.txt\n');
writeFileSync(join(context, 'file.txt'), 'hello\n');
// No base to pull: the first write to the cache is the COPY layer.
writeFileSync(join(context, 'Scratch.Dockerfile'), 'FROM scratch\nCOPY big.bin /big.bin\n');
writeFileSync(join(context, 'big.bin'), Buffer.alloc(256 * 1024, 7));

interface BuildOptions {
  readonly cacheDir?: string;
  readonly output?: string;
  readonly dockerfile?: string;
}

/** `wharf build` of the context's Dockerfile to `dest` (the argv after the CLI's path). */
function buildArgv(dest: string, options: BuildOptions = {}): string[] {
  return [
    'build',
    '-f',
    join(context, options.dockerfile ?? 'Dockerfile'),
    context,
    '--registry-mirror',
    testEnv().mirror.url,
    '--progress',
    'quiet',
    '--cache-dir',
    options.cacheDir ?? join(tempDir('wharf-errors-cache-'), 'cache'),
    '-o',
    `type=${options.output ?? 'docker-archive'},dest=${dest}`,
  ];
}

async function build(dest: string, options: BuildOptions = {}): Promise<CliResult> {
  return await wharfAsync(buildArgv(dest, options));
}

/** Exit 1, one `wharf:` line matching `problem` and naming `path`, then only a hint line. */
function expectClearError(result: CliResult, problem: RegExp, path: string): void {
  expect(result.code, result.stderr).toBe(1);
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines[0]).toMatch(/^wharf: /);
  expect(lines[0]).toMatch(problem);
  expect(lines[0]).toContain(path);
  expect(lines[0]).not.toMatch(/internal error/);
  expect(lines.slice(1).every((line) => line.startsWith('  hint: '))).toBe(true);
  expect(lines).toHaveLength(2);
}

const mounts: string[] = [];
/** A tmpfs of `size` mounted by the test (unmounted and removed after the file). */
function tmpfs(size: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-errors-tmpfs-'));
  mounts.push(dir);
  const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { encoding: 'utf8' });
  expect(mount.status, mount.stderr).toBe(0);
  return dir;
}
afterAll(() => {
  for (const dir of mounts) {
    spawnSync('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  }
});

const asRoot = process.getuid?.() === 0;

describe.skipIf(noDocker() || !asRoot)('clear errors for the filesystem wharf writes to', () => {
  it('a full disk at the destination names it; nothing is left there', async () => {
    const full = tmpfs('64k');
    const dest = join(full, 'image.tar');
    expectClearError(await build(dest), /no space left on the device/, dest);
    expect(readdirSync(full)).toEqual([]);
    const layout = join(full, 'layout');
    expectClearError(await build(layout, { output: 'oci' }), /no space left on the device/, layout);
    expect(readdirSync(full)).toEqual([]);
  });

  it('a full disk under the cache names the cache dir', async () => {
    const cacheDir = join(tmpfs('64k'), 'cache');
    const result = await build(join(tempDir('wharf-errors-out-'), 'image.tar'), {
      cacheDir,
      dockerfile: 'Scratch.Dockerfile',
    });
    expectClearError(result, /no space left on the device/, cacheDir);
    expect(result.stderr).toMatch(/--cache-dir/);
  });

  it('a read-only destination names it', async () => {
    const dir = tmpfs('1m');
    expect(spawnSync('mount', ['-o', 'remount,ro', dir]).status).toBe(0);
    const dest = join(dir, 'image.tar');
    expectClearError(await build(dest), /the filesystem is read-only/, dest);
  });

  it('an immutable destination folder (chattr +i) names it', async () => {
    const dir = tempDir('wharf-errors-immutable-');
    const chattr = spawnSync('chattr', ['+i', dir], { encoding: 'utf8' });
    expect(chattr.status, chattr.stderr).toBe(0);
    try {
      // an image layout in a folder that cannot be made there (was "internal error: EPERM … mkdir")
      const dest = join(dir, 'sub', 'layout');
      expectClearError(await build(dest, { output: 'oci' }), /not permitted/, dest);
    } finally {
      spawnSync('chattr', ['-i', dir]);
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a destination this user may not write (EACCES, as nobody) names it', async () => {
    const dir = tempDir('wharf-errors-denied-');
    chmodSync(dir, 0o755); // root's, not writable for nobody
    const home = tempDir('wharf-errors-nobody-');
    chmodSync(home, 0o755);
    const cacheDir = join(home, 'cache');
    mkdirSync(cacheDir);
    chownSync(cacheDir, 65534, 65534);
    // an image layout in a folder nobody may create (was "internal error: EACCES … mkdir")
    const dest = join(dir, 'sub', 'layout');
    const run = await wharfAsync(buildArgv(dest, { cacheDir, output: 'oci' }), {
      wrapper: ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--'],
      env: { HOME: cacheDir, WHARF_USERNS: 'off' },
      cwd: context,
    });
    expectClearError(run, /permission denied/, dest);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe.skipIf(noDocker() || !asRoot)('destinations that are not files are refused', () => {
  it('a device node as dest= is refused before any work and stays a device node', async () => {
    const dir = tempDir('wharf-errors-dev-');
    const node = join(dir, 'full');
    const mknod = spawnSync('mknod', [node, 'c', '1', '7'], { encoding: 'utf8' }); // like /dev/full
    expect(mknod.status, mknod.stderr).toBe(0);
    const cacheDir = join(tempDir('wharf-errors-cache-'), 'cache');
    for (const output of ['oci-archive', 'docker-archive', 'oci']) {
      expectClearError(await build(node, { cacheDir, output }), /is a character device/, node);
      expect(lstatSync(node).isCharacterDevice()).toBe(true);
    }
    expect(existsSync(cacheDir)).toBe(false); // refused before anything was pulled
    // `wharf convert -o` and `wharf dockerfile -o` write files the same way
    const converted = await wharfAsync(['convert', join(context, 'Dockerfile'), '-o', node]);
    expectClearError(converted, /is a character device/, node);
    expect(lstatSync(node).isCharacterDevice()).toBe(true);
  });

  it('a FIFO, or a regular file for an image layout, is refused; a directory for type=oci is fine', async () => {
    const dir = tempDir('wharf-errors-fifo-');
    const fifo = join(dir, 'pipe');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    expectClearError(await build(fifo), /is a FIFO/, fifo);
    const file = join(dir, 'file');
    writeFileSync(file, 'x');
    expectClearError(await build(file, { output: 'oci' }), /replaces only a directory/, file);
    const layout = join(dir, 'layout');
    mkdirSync(layout);
    expect((await build(layout, { output: 'oci' })).code).toBe(0);
    expect(existsSync(join(layout, 'index.json'))).toBe(true);
  });
});

describe('a build.ts that never finishes loading', () => {
  it('says so and exits 1 (Node alone would exit 13 without a word)', async () => {
    const dir = tempDir('wharf-errors-hang-');
    writeFileSync(
      join(dir, 'build.ts'),
      "import { stage } from '@wharf/core';\nawait new Promise(() => {});\nexport default stage('x').from('busybox');\n",
    );
    for (const command of [
      ['build', 'build.ts'],
      ['dockerfile', 'build.ts'],
    ]) {
      const result = await wharfAsync(command, { cwd: dir });
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toMatch(
        /^wharf: build\.ts did not finish loading: its top-level await never settled\n {2}hint: /,
      );
    }
  });
});
