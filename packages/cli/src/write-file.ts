/**
 * Writes files atomically: to a temp file beside the target, then rename, so no partial file is left.
 * The rename would replace whatever is there: only a regular file is (a device node, FIFO or socket is
 * refused), and a full disk, permissions or a read-only filesystem name the path and the fix.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { WharfError } from '@wharf/core';
import { checkDestination, fileSystemProblem } from '@wharf/core/export';

export async function writeFileAtomic(path: string, content: string): Promise<void> {
  await checkDestination(path, 'file');
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(temp, content);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    const problem = fileSystemProblem(error, path);
    if (problem)
      throw new WharfError('CLI_WRITE_FAILED', problem.message, { hint: problem.hint, cause: error });
    throw error;
  }
}
