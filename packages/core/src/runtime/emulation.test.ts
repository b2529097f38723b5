import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parsePlatform } from '../oci/platform.js';
import { checkEmulation, needsEmulation } from './emulation.js';

const root = mkdtempSync(join(tmpdir(), 'wharf-binfmt-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const amd64 = parsePlatform('linux/amd64');
const arm64 = parsePlatform('linux/arm64');

/** A fake binfmt_misc folder: `status` and the given `qemu-*` entries. */
function binfmt(entries: Record<string, string>, status = 'enabled'): string {
  const dir = mkdtempSync(join(root, 'dir-'));
  writeFileSync(join(dir, 'status'), `${status}\n`);
  for (const [name, text] of Object.entries(entries)) writeFileSync(join(dir, name), text);
  return dir;
}

const entry = (flags: string, state = 'enabled') =>
  `${state}\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: ${flags}\noffset 0\nmagic 7f454c46\n`;

describe('QEMU emulation for RUN', () => {
  it('is needed only for another architecture (386 runs natively on amd64)', () => {
    expect(needsEmulation(amd64, amd64)).toBe(false);
    expect(needsEmulation(parsePlatform('linux/386'), amd64)).toBe(false);
    expect(needsEmulation(arm64, amd64)).toBe(true);
    expect(needsEmulation(amd64, arm64)).toBe(true);
  });

  it('passes with an enabled qemu entry that has the F flag, and never looks when native', async () => {
    await expect(
      checkEmulation(arm64, { host: amd64, binfmtDir: binfmt({ 'qemu-aarch64': entry('POCF') }) }),
    ).resolves.toBeUndefined();
    await expect(
      checkEmulation(amd64, { host: amd64, binfmtDir: join(root, 'nowhere') }),
    ).resolves.toBeUndefined();
  });

  it('fails naming the problem and the commands that fix it', async () => {
    const cases: [string, RegExp][] = [
      [join(root, 'not-mounted'), /binfmt_misc is not mounted at/],
      [binfmt({}, 'disabled'), /binfmt_misc at .* is disabled/],
      [binfmt({ 'qemu-arm': entry('F') }), /no qemu-aarch64 entry is registered/],
      [binfmt({ 'qemu-aarch64': entry('F', 'disabled') }), /the qemu-aarch64 entry .* is disabled/],
      [binfmt({ 'qemu-aarch64': entry('POC') }), /lacks the F flag/],
    ];
    for (const [binfmtDir, why] of cases) {
      const error = await checkEmulation(arm64, { host: amd64, binfmtDir }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'RUNTIME_NO_EMULATION' });
      expect((error as Error).message).toMatch(
        /^RUN for linux\/arm64 on this linux\/amd64 machine needs QEMU emulation: /,
      );
      expect((error as Error).message).toMatch(why);
      const hint = (error as { hint: string }).hint;
      expect(hint).toContain('apt-get install qemu-user-static binfmt-support');
      expect(hint).toContain('mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc');
      expect(hint).toContain('update-binfmts --enable qemu-aarch64');
    }
  });

  it('takes the folder from WHARF_BINFMT_DIR', async () => {
    const env = { WHARF_BINFMT_DIR: join(root, 'absent') };
    await expect(checkEmulation(arm64, { host: amd64, env })).rejects.toThrow(/not mounted at .*absent/);
  });
});
