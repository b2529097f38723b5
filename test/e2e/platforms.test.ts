// `wharf build --platform`: a platform the base image lacks and a malformed platform each fail before
// any work (several platforms: multi-platform.test.ts), with one clear line (exit 1 for a user error, 2 for a usage error), no
// stack trace, nothing on stdout and nothing in the -o folder.
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUSYBOX_MULTI } from '../helpers/base-images.js';
import { buildIntoEmptyDir, type CliResult, wharfAsync } from '../helpers/cli.js';
import { noDocker, testEnv } from '../helpers/env.js';
import { tempDir } from '../helpers/paths.js';
import { skopeoInspect } from '../helpers/tools.js';

/** `wharf build -f Dockerfile CTX ARGS -o type=oci-archive,dest=<empty dir>/image.tar`. */
function build(dockerfile: string, args: readonly string[], env: NodeJS.ProcessEnv = {}) {
  const context = tempDir('wharf-platforms-ctx-');
  writeFileSync(join(context, 'Dockerfile'), dockerfile);
  return buildIntoEmptyDir(['-f', join(context, 'Dockerfile'), context, ...args], env);
}

function expectNothingWritten(result: CliResult & { out: string }): void {
  expect(result.stderr).not.toMatch(/internal error|\n\s+at /);
  expect(result.stdout).toBe('');
  expect(readdirSync(result.out)).toEqual([]);
}

describe.skipIf(noDocker())('wharf build --platform', () => {
  it('refuses a single-platform base made for another platform, naming both (no silent amd64 image)', async () => {
    for (const platform of ['linux/arm64', 'linux/s390x', 'windows/amd64']) {
      const result = await build('FROM busybox\nRUN echo built > /built\n', ['--platform', platform]);
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toContain(`base image busybox is for linux/amd64 only, not ${platform}`);
      expect(result.stderr).toContain('hint: use a base image that has');
      expectNothingWritten(result);
    }
  });

  it('refuses a multi-platform base that lacks the platform, listing the platforms it has', async () => {
    const result = await build(`FROM ${BUSYBOX_MULTI.ref}\nRUN true\n`, ['--platform', 'linux/s390x']);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain('has no image for linux/s390x');
    expect(result.stderr).toContain('available platforms: linux/amd64, linux/arm64');
    expectNothingWritten(result);
  });

  it('RUN for a foreign platform without QEMU emulation fails before any work, with the commands to enable it', async () => {
    const binfmtDir = tempDir('wharf-platforms-binfmt-'); // empty: binfmt_misc not mounted
    const result = await build('FROM busybox\nRUN uname -m > /arch\n', ['--platform', 'linux/arm64'], {
      WHARF_BINFMT_DIR: binfmtDir,
    });
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain(
      'wharf: RUN for linux/arm64 on this linux/amd64 machine needs QEMU emulation',
    );
    expect(result.stderr).toContain('apt-get install qemu-user-static binfmt-support');
    expect(result.stderr).toContain('update-binfmts --enable qemu-aarch64');
    expectNothingWritten(result);
    // Nothing was pulled: the check comes before the base image is resolved.
    expect(existsSync(join(result.cacheDir, 'bases'))).toBe(false);
  });

  it('a malformed FROM --platform fails naming it, before any work', async () => {
    const result = await build('FROM busybox\nFROM --platform=linux/nonsense busybox\nRUN true\n', []);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain('invalid platform "linux/nonsense"');
    expectNothingWritten(result);
    expect(existsSync(join(result.cacheDir, 'bases'))).toBe(false);
  });

  it('a malformed platform is a usage error (exit 2) before anything is read', async () => {
    const result = await build('FROM busybox\n', ['--platform', 'garbage']);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain('invalid platform "garbage"');
    expectNothingWritten(result);
    expect(existsSync(result.cacheDir)).toBe(false);
  });

  it('keeps every platform of a comma list or a repeated flag, never silently the last or the first', async () => {
    for (const args of [
      ['--platform', 'linux/amd64,linux/arm64'],
      ['--platform', 'linux/amd64', '--platform', 'linux/arm64'],
    ]) {
      // busybox is amd64 only: the arm64 half is built too, so it is refused (multi-platform.test.ts builds both)
      const result = await build('FROM busybox\n', args);
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toContain('base image busybox is for linux/amd64 only, not linux/arm64');
      expectNothingWritten(result);
    }
  });

  it('wharf inspect shows a multi-platform image as its index: each platform, and the digest to pin', async () => {
    const ref = `${testEnv().mirror.host}/library/${BUSYBOX_MULTI.ref}`;
    const raw = (await skopeoInspect(`docker://${ref}`, { raw: true })) as {
      manifests: { digest: string; platform: { architecture: string } }[];
    };
    const { Digest: indexDigest } = (await skopeoInspect(`docker://${ref}`)) as { Digest: string };
    const result = await wharfAsync(['inspect', ref]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`Digest:       ${indexDigest} (the index: pin this one)`);
    expect(result.stdout).toContain('Manifests:    2');
    for (const m of raw.manifests) {
      expect(result.stdout).toMatch(new RegExp(`linux/${m.platform.architecture}\\s+${m.digest}`));
    }
    // --platform still shows one image of it.
    const arm64 = await wharfAsync(['inspect', ref, '--platform', 'linux/arm64']);
    expect(arm64.stdout).toContain('Platform:     linux/arm64');
    const armDigest = raw.manifests.find((m) => m.platform.architecture === 'arm64')?.digest;
    expect(arm64.stdout).toContain(`Digest:       ${armDigest}`);
  });
});
