/**
 * Output destinations: what may be replaced, and what a failed write tells the user. Outputs are
 * written beside the destination and renamed over it, so a device node, FIFO or socket there would be
 * replaced by a regular file (`dest=/dev/full` once was): only a regular file (archives) or a directory
 * (`type=oci`) is replaced, anything else is refused before any work. A full disk, a permission
 * problem or a read-only filesystem is reported with the path and the fix, not as an internal error.
 */
import { stat } from 'node:fs/promises';
import { fileSystemProblem } from '../errors.js';
import { ExportError } from './errors.js';
import type { OutputSpec } from './output.js';

/** {@link checkDestination} for an output spec (nothing to check for a registry). */
export async function checkOutput(spec: OutputSpec): Promise<void> {
  if (spec.type !== 'registry') await checkDestination(spec.dest, spec.type === 'oci' ? 'directory' : 'file');
}

/** Refuses a destination that exists and is not what the output writes (a file, or a directory). */
export async function checkDestination(dest: string, kind: 'file' | 'directory'): Promise<void> {
  const st = await stat(dest).catch(() => undefined);
  if (!st || (kind === 'file' ? st.isFile() : st.isDirectory())) return;
  const what = st.isCharacterDevice()
    ? 'a character device'
    : st.isBlockDevice()
      ? 'a block device'
      : st.isFIFO()
        ? 'a FIFO'
        : st.isSocket()
          ? 'a socket'
          : st.isDirectory()
            ? 'a directory'
            : 'not a regular file';
  throw new ExportError(
    'EXPORT_BAD_DEST',
    `cannot write ${dest}: it is ${what}, and wharf replaces only a ${kind === 'file' ? 'regular file' : 'directory'} there`,
    {
      hint:
        kind === 'file'
          ? 'write to the path of a new or existing regular file instead (e.g. dest=image.tar)'
          : 'write to the path of a new or existing directory instead',
    },
  );
}

/** Runs an exporter; a full disk, a permission problem or a read-only filesystem names `dest` and the fix. */
export async function writingTo<T>(dest: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    // the media wrap what the filesystem said (ArchiveError, LayoutError): look at the cause too
    const problem =
      fileSystemProblem(error, dest) ?? fileSystemProblem((error as Error | undefined)?.cause, dest);
    if (!problem) throw error;
    throw new ExportError('EXPORT_WRITE_FAILED', problem.message, { hint: problem.hint, cause: error });
  }
}
