import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type CliResult, wharfAsync } from '../helpers/cli.js';
import { repoRoot } from '../helpers/paths.js';

const fixture = (name: string) => join(repoRoot, 'test/fixtures/definitions', name);
const scratch = mkdtempSync(join(tmpdir(), 'wharf-cli-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A user error: exit 1, one line (plus an optional hint line), no stack trace. */
function expectUserError(result: CliResult, message: RegExp) {
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(message);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  expect(result.stderr.trim().split('\n').length).toBeLessThanOrEqual(2);
}

describe('wharf dockerfile', () => {
  it('prints the Dockerfile of the hello example', async () => {
    const result = await wharfAsync(['dockerfile', 'examples/hello/build.ts']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^FROM scratch AS hello$/m);
    expect(result.stdout).toMatch(/^CMD \["\/usr\/local\/bin\/hello"\]$/m);
  });

  it('writes the Dockerfile and the .dockerignore beside it with -o', async () => {
    const out = join(scratch, 'out', 'Dockerfile');
    const result = await wharfAsync(['dockerfile', 'examples/node-app/build.ts', '-o', out]);
    expect(result.code).toBe(0);
    expect(readFileSync(out, 'utf8')).toMatch(/^FROM node:20-alpine AS runtime$/m);
    expect(readFileSync(join(scratch, 'out', '.dockerignore'), 'utf8')).toMatch(/^node_modules$/m);
    // The context is examples/node-app/app, so Docker would not read out/.dockerignore: wharf says so.
    expect(result.stderr).toMatch(
      /warning: the \.dockerignore applies only if .*out is the build context; this build's context is .*examples\/node-app\/app/,
    );
  });

  it('picks one of several targets with --target, and says which exist otherwise', async () => {
    expect((await wharfAsync(['dockerfile', fixture('targets.ts'), '--target', 'test'])).stdout).toMatch(
      /RUN echo test/,
    );
    expectUserError(
      await wharfAsync(['dockerfile', fixture('targets.ts')]),
      /several targets are defined: app, test/,
    );
  });

  it('finds build.ts in the current folder by default', async () => {
    const result = await wharfAsync(['dockerfile'], { cwd: join(repoRoot, 'examples/hello') });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/FROM scratch AS hello/);
  });

  it('works for a build.ts outside the workspace (no @wharf/core installed beside it)', async () => {
    const file = join(scratch, 'build.ts');
    writeFileSync(
      file,
      "import { stage } from '@wharf/core';\nexport default stage('x').from('alpine').run('true');\n",
    );
    const result = await wharfAsync(['dockerfile', file], { cwd: scratch });
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/FROM alpine AS x\nRUN true/);
  });

  it("resolves the subpath exports in a build.ts to the CLI's copy too", async () => {
    const file = join(scratch, 'build.ts');
    writeFileSync(
      file,
      [
        "import { stage } from '@wharf/core';",
        "import { APT_KEEP_CACHE, type RunOptions } from '@wharf/core/dsl';",
        "import { parseReference } from '@wharf/core/oci';",
        "const options: RunOptions = { network: 'none' };",
        "export default stage('x').from(parseReference('alpine').repository).run(APT_KEEP_CACHE, options);",
        '',
      ].join('\n'),
    );
    const result = await wharfAsync(['dockerfile', file], { cwd: scratch });
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(
      /FROM library\/alpine AS x\nRUN --network=none rm -f \/etc\/apt\/apt.conf.d\/docker-clean/,
    );
  });

  it('warns about a relative COPY destination with no WORKDIR, and still emits', async () => {
    const result = await wharfAsync(['dockerfile', fixture('relative-dest.ts')]);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/warning: .*relative-dest\.ts:3:\d+: .*relative destination "a\.txt"/);
  });
});

describe('bad input: one line naming the problem, exit 1, no stack trace', () => {
  it('a missing build.ts', async () => {
    expectUserError(
      await wharfAsync(['dockerfile', 'missing.ts']),
      /^wharf: build definition not found: missing\.ts/,
    );
  });
  it('a build.ts that throws', async () => {
    expectUserError(
      await wharfAsync(['dockerfile', fixture('throws.ts')]),
      /throws\.ts failed while loading: cannot read the version file for base/,
    );
  });
  it('a syntax error, at its file:line:col (in build.ts, or in a file it imports)', async () => {
    const dir = mkdtempSync(join(scratch, 'syntax-'));
    writeFileSync(
      join(dir, 'build.ts'),
      "import { stage } from '@wharf/core';\nexport default stage('a').from('scratch'\n  .cmd([1,;\n",
    );
    expectUserError(
      await wharfAsync(['dockerfile', 'build.ts'], { cwd: dir }),
      /^wharf: build\.ts:3:10: syntax error: Unexpected token\n {2}hint: /,
    );
    writeFileSync(join(dir, 'lib.ts'), 'export const a = (;\n');
    writeFileSync(
      join(dir, 'imports.ts'),
      "import { stage } from '@wharf/core';\nimport { a } from './lib.ts';\nexport default stage('a').from('scratch').env({ A: a });\n",
    );
    expectUserError(
      await wharfAsync(['dockerfile', 'imports.ts'], { cwd: dir }),
      /^wharf: lib\.ts:1:18: syntax error: Unexpected token\n/,
    );
  });
  it('a default export that is not a stage', async () => {
    expectUserError(
      await wharfAsync(['dockerfile', fixture('not-a-stage.ts')]),
      /default export of .*not-a-stage\.ts is not a stage \(got number 42\)/,
    );
  });
  it('no default export', async () => {
    expectUserError(
      await wharfAsync(['dockerfile', fixture('no-default.ts')]),
      /no-default\.ts has no default export/,
    );
  });
  it('an invalid port, pointing at the build.ts line', async () => {
    expectUserError(
      await wharfAsync(['dockerfile', fixture('bad-port.ts')]),
      /bad-port\.ts:3:\d+: stage "app", EXPOSE \(instruction 2\): invalid port "70000"/,
    );
  });
  it('--debug adds the stack trace', async () => {
    const result = await wharfAsync(['--debug', 'dockerfile', fixture('throws.ts')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/\n\s+at /);
  });
  it('usage errors exit 2', async () => {
    expect((await wharfAsync(['dockerfile', '--bogus'])).code).toBe(2);
    expect((await wharfAsync(['nonsense'])).code).toBe(2);
    // Flags the command understood but whose values are wrong are usage errors too.
    const dockerfile = join(scratch, 'Dockerfile.usage');
    writeFileSync(dockerfile, 'FROM scratch AS app\nCOPY Dockerfile.usage /\n');
    const build = (...args: string[]) => wharfAsync(['build', '-f', dockerfile, ...args, scratch]);
    expect((await build('--target', 'nope')).code).toBe(2);
    expect((await build('-o', 'type=bogus,dest=x')).code).toBe(2);
    expect((await build('--push')).code).toBe(2);
    expect((await wharfAsync(['cache', 'prune'])).code).toBe(2);
  });
  it('an unknown --progress mode is a usage error naming the valid ones (it was accepted)', async () => {
    const result = await wharfAsync(['build', '--progress', 'fancy', 'build.ts']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/'fancy' is invalid\. Allowed choices are auto, plain, tty, json, quiet/);
  });
  it('--help and --version exit 0', async () => {
    expect((await wharfAsync(['--help'])).code).toBe(0);
    expect((await wharfAsync(['--version'])).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
