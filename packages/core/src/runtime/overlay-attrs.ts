/**
 * The two things overlayfs stores that Node cannot make or read: whiteouts (character devices 0:0)
 * and opaque directories (the `trusted.overlay.opaque=y` xattr, or `user.overlay.opaque=y` for overlays
 * mounted with `userxattr` in a user namespace). GNU tar can: it creates device nodes (0:0 whiteouts
 * need no privilege since Linux 5.8) and restores xattrs from PAX `SCHILY.xattr.*` records (`trusted.*`
 * needs root, `user.*` the owner), and it reads them back the same way. So we hand it a small tar we made (paths already checked), or ask it for a listing. One process
 * per layer, whatever the number of entries.
 */
import { END_OF_ARCHIVE, encodeHeader, type TarHeader } from '../tar/header.js';
import { TarReader } from '../tar/reader.js';
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

/** A tar of header-only members (directories and devices), with wharf's header encoder. */
function headersOnly(headers: readonly TarHeader[]): Buffer {
  return Buffer.concat([...headers.map(encodeHeader), END_OF_ARCHIVE]);
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
  // the time tar gives the opaque directories it touches: now, as before
  const mtime = Math.floor(Date.now() / 1000);
  const tar = headersOnly([
    ...opaque.map(
      (d): TarHeader => ({
        name: `${d.path}/`,
        type: 'directory',
        mode: d.mode,
        uid: d.uid,
        gid: d.gid,
        size: 0,
        mtime,
        pax: { [`SCHILY.xattr.${xattr}`]: 'y' },
      }),
    ),
    ...whiteouts.map(
      (path): TarHeader => ({
        name: path,
        type: 'character-device',
        mode: 0,
        uid: 0,
        gid: 0,
        size: 0,
        mtime,
      }),
    ),
  ]);
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
  for await (const entry of new TarReader([result.stdout])) {
    if (entry.pax?.[`SCHILY.xattr.${xattr}`] === 'y') {
      opaque.add(entry.name.replace(/^\.\/?/, '').replace(/\/$/, ''));
    }
  }
  return opaque;
}
