/**
 * The two things overlayfs stores that Node cannot make or read: whiteouts (character devices 0:0)
 * and opaque directories (the `trusted.overlay.opaque=y` xattr, or `user.overlay.opaque=y` for overlays
 * mounted with `userxattr` in a user namespace). GNU tar can: it creates device nodes (0:0 whiteouts
 * need no privilege since Linux 5.8) and restores xattrs from PAX `SCHILY.xattr.*` records (`trusted.*`
 * needs root, `user.*` the owner), and it reads them back the same way. So we hand it a small tar we made (paths already checked), or ask it for a listing. One process
 * per layer, whatever the number of entries.
 */
import { extract as tarExtract, pack as tarPack } from 'tar-stream';
import { execTool } from './exec.js';

/** The opaque-directory xattr of an overlay mounted by root. */
export const OPAQUE_XATTR = 'trusted.overlay.opaque';
/** The opaque-directory xattr of an overlay mounted with `userxattr` (rootless, in a user namespace). */
export const USER_OPAQUE_XATTR = 'user.overlay.opaque';

export interface DirAttrs {
  /** Clean path relative to the layer root. */
  readonly path: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

let gnuTar: Promise<boolean> | undefined;

/** True when `tar` is GNU tar (needed for overlay whiteouts and opaque directories). */
export function hasGnuTar(): Promise<boolean> {
  gnuTar ??= execTool('tar', ['--version'])
    .then((r) => r.code === 0 && r.stdout.toString('utf8').includes('GNU tar'))
    .catch(() => false);
  return gnuTar;
}

async function packToBuffer(write: (pack: ReturnType<typeof tarPack>) => void): Promise<Buffer> {
  const pack = tarPack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const chunk of pack) chunks.push(chunk as Buffer);
  })();
  write(pack);
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/**
 * Creates overlay whiteouts (char 0:0) at `whiteouts` and marks `opaque` directories (which must
 * already exist, with these attributes) with `xattr` in the layer directory `dir`. Paths are clean and
 * relative.
 */
export async function writeOverlayAttrs(
  dir: string,
  whiteouts: readonly string[],
  opaque: readonly DirAttrs[],
  xattr: string = OPAQUE_XATTR,
): Promise<void> {
  if (whiteouts.length === 0 && opaque.length === 0) return;
  const tar = await packToBuffer((pack) => {
    for (const d of opaque) {
      const header = {
        name: `${d.path}/`,
        type: 'directory' as const,
        mode: d.mode,
        uid: d.uid,
        gid: d.gid,
        pax: { [`SCHILY.xattr.${xattr}`]: 'y' },
      };
      pack.entry(header);
    }
    for (const path of whiteouts) {
      pack.entry({ name: path, type: 'character-device', mode: 0, uid: 0, gid: 0, devmajor: 0, devminor: 0 });
    }
  });
  const result = await execTool(
    'tar',
    ['-x', '-f', '-', '-C', dir, '--xattrs', `--xattrs-include=${xattr}`, '--numeric-owner', '-p'],
    { input: tar },
  );
  if (result.code !== 0) throw new Error(`tar could not write overlay whiteouts in ${dir}: ${result.stderr}`);
}

/** Which of `dirs` (clean relative paths in `dir`) carry `xattr=y` (default `trusted.overlay.opaque`). */
export async function readOpaqueDirs(
  dir: string,
  dirs: readonly string[],
  xattr: string = OPAQUE_XATTR,
): Promise<Set<string>> {
  const opaque = new Set<string>();
  if (dirs.length === 0) return opaque;
  const list = `${dirs.map((d) => (d === '' ? '.' : `./${d}`)).join('\0')}\0`;
  const result = await execTool(
    'tar',
    [
      '-c',
      '-f',
      '-',
      '-C',
      dir,
      '--no-recursion',
      '--xattrs',
      `--xattrs-include=${xattr}`,
      '--null',
      '-T',
      '-',
    ],
    { input: list },
  );
  if (result.code !== 0) throw new Error(`tar could not read overlay attributes in ${dir}: ${result.stderr}`);
  const ex = tarExtract();
  ex.end(result.stdout);
  for await (const entry of ex) {
    const pax = (entry.header as { pax?: Record<string, string> }).pax;
    if (pax?.[`SCHILY.xattr.${xattr}`] === 'y') {
      opaque.add(entry.header.name.replace(/^\.\/?/, '').replace(/\/$/, ''));
    }
    entry.resume();
  }
  return opaque;
}
