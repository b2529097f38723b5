/**
 * Writes the files a command produces (Dockerfile, build.ts, init's project) through core's one atomic
 * writer (temp file beside the target, fsync, rename), so no partial file is left. The rename would
 * replace whatever is there: only a regular file is (a device node, FIFO or socket is refused), and a
 * full disk, permissions or a read-only filesystem name the path and the fix.
 */
import { WharfError } from '@wharf/core';
import { checkDestination, fileSystemProblem, writeFileAtomic as writeAtomic } from '@wharf/core/export';

export async function writeFileAtomic(path: string, content: string): Promise<void> {
  await checkDestination(path, 'file');
  try {
    await writeAtomic(path, content);
  } catch (error) {
    const problem = fileSystemProblem(error, path);
    if (problem)
      throw new WharfError('CLI_WRITE_FAILED', problem.message, { hint: problem.hint, cause: error });
    throw error;
  }
}
