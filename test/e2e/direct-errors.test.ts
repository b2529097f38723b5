// Bad input to `wharf build` (direct backend): each case exits 1 with one `wharf: …` line naming the
// problem (then only indented hint or command-output lines), no stack trace, nothing on stdout, and no
// output file — not even a partial or temporary one — in the -o folder.
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildIntoEmptyDir, type CliResult } from '../helpers/cli.js';
import { noDocker } from '../helpers/env.js';
import { tempDir } from '../helpers/paths.js';

/** A build.ts in a fresh folder. */
function definition(source: string): string {
  const file = join(tempDir('wharf-errors-'), 'build.ts');
  writeFileSync(file, source);
  return file;
}

/** Exit 1, one `wharf:` line matching `problem`, only indented lines after it, nothing written. */
function expectCleanFailure(result: CliResult & { out: string }, problem: RegExp, code: 1 | 2 = 1): string[] {
  expect(result.code, result.stderr).toBe(code);
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines[0]).toMatch(/^wharf: /);
  expect(lines[0]).toMatch(problem);
  expect(lines[0]).not.toMatch(/internal error/);
  for (const line of lines.slice(1)) expect(line).toMatch(/^ {2}(hint: |\|( |$))/);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  expect(result.stdout).toBe('');
  expect(readdirSync(result.out)).toEqual([]);
  return lines;
}

const withRun = (run: string) =>
  `import { stage } from '@wharf/core';\nexport default stage('x').from('busybox').run(${JSON.stringify(run)});\n`;

describe.skipIf(noDocker())('wharf build: bad input fails cleanly', () => {
  it('a failing RUN names the command and exit code and shows its last output lines', async () => {
    const lines = expectCleanFailure(
      await buildIntoEmptyDir([definition(withRun('echo first line && echo last words && exit 3'))]),
      /stage "x", instruction 1: .*echo first line && echo last words && exit 3.*exit code 3/,
    );
    expect(lines).toEqual(expect.arrayContaining(['  | first line', '  | last words']));
  });

  it('no OCI runtime: names the ways out (runc/crun, --backend docker) before doing any work', async () => {
    const result = await buildIntoEmptyDir([definition(withRun('true'))], {
      WHARF_RUNTIME: '/nonexistent/runc',
    });
    const lines = expectCleanFailure(result, /WHARF_RUNTIME=\/nonexistent\/runc/);
    const hint = lines.find((l) => l.startsWith('  hint: ')) ?? '';
    expect(hint).toMatch(/install runc or crun/);
    expect(hint).toMatch(/--backend docker/);
    // Failed before pulling the base: no blob reached the cache.
    const blobs = join(result.cacheDir, 'blobs', 'sha256');
    expect(existsSync(blobs) ? readdirSync(blobs) : []).toEqual([]);
  });

  it('an unknown --target names it and lists what exists (build.ts and Dockerfile)', async () => {
    const file = definition(
      "import { define, stage } from '@wharf/core';\n" +
        "const base = stage('base').from('busybox').run('echo a > /a');\n" +
        "export default define({ targets: { app: stage('app').from(base), tools: stage('tools').from(base) } });\n",
    );
    // an unknown --target is a usage error (exit 2), as an unknown flag is
    const lines = expectCleanFailure(
      await buildIntoEmptyDir([file, '--target', 'nope']),
      /no target named "nope"/,
      2,
    );
    expect(lines.join('\n')).toMatch(/app, tools/);

    const dockerfile = join(tempDir('wharf-errors-df-'), 'Dockerfile');
    writeFileSync(dockerfile, 'FROM busybox AS first\nRUN echo a > /a\nFROM first AS second\nRUN echo b\n');
    const fromDockerfile = expectCleanFailure(
      await buildIntoEmptyDir(['-f', dockerfile, join(dockerfile, '..'), '--target', 'nope']),
      /no stage named "nope"/,
      2,
    );
    expect(fromDockerfile.join('\n')).toMatch(/first, second/);
  });

  it('a required secret that was not given names its id and how to pass it', async () => {
    const file = definition(
      "import { secret, stage } from '@wharf/core';\n" +
        "export default stage('x').from('busybox').run('cat /run/secrets/token', { mounts: [secret('token', { required: true })] });\n",
    );
    const lines = expectCleanFailure(await buildIntoEmptyDir([file]), /secret "token" is required/);
    expect(lines.join('\n')).toMatch(/--secret id=token/);
  });

  it('a cache dir that cannot be written (a regular file) is a clear error, not an internal one', async () => {
    const notADir = join(tempDir('wharf-errors-file-'), 'cache-is-a-file');
    writeFileSync(notADir, 'not a directory\n');
    const file = definition(withRun('true'));
    expectCleanFailure(await buildIntoEmptyDir([file, '--cache-dir', notADir]), /cache-is-a-file/);
  });
});
