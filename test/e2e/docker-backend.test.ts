// `--backend docker` picks a docker CLI whose BuildKit works: WHARF_DOCKER when set, else the first
// `docker` on PATH that has buildx or is older than 23.0 (BuildKit built in). A docker 23+ CLI without
// buildx ("BuildKit is enabled but the buildx component is missing or broken") is passed over, and when
// nothing fits the error names each CLI tried and WHARF_DOCKER.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { wharfAsync } from '../helpers/cli.js';
import { noDocker } from '../helpers/env.js';
import { tempDir } from '../helpers/paths.js';

/**
 * A folder holding a `docker` that answers as a docker 24 CLI without the buildx plugin does (this
 * machine's /usr/local/bin/docker is a 28.x one; not every machine has such a client).
 */
function dockerWithoutBuildx(): string {
  const dir = join(tempDir(), 'bin');
  mkdirSync(dir);
  const file = join(dir, 'docker');
  writeFileSync(
    file,
    [
      '#!/bin/sh',
      'case "$1" in',
      '  --version) echo "Docker version 24.0.7, build afdd53b" ;;',
      `  buildx) echo "docker: 'buildx' is not a docker command." >&2; exit 1 ;;`,
      '  *) echo "ERROR: BuildKit is enabled but the buildx component is missing or broken." >&2; exit 1 ;;',
      'esac',
      '',
    ].join('\n'),
  );
  chmodSync(file, 0o755);
  return dir;
}

function definition(body: string): string {
  const dir = tempDir();
  writeFileSync(join(dir, 'a.txt'), 'a\n');
  writeFileSync(
    join(dir, 'build.ts'),
    `import { stage } from '@wharf/core';\nexport default stage('app').from('scratch')${body};\n`,
  );
  return join(dir, 'build.ts');
}

const build = (file: string, env: NodeJS.ProcessEnv, progress = 'plain') =>
  wharfAsync(
    [
      ...['build', '--backend', 'docker', '--progress', progress, '--lint', 'off', file],
      ...['-o', `type=oci,dest=${join(tempDir(), 'out')}`],
    ],
    { env: { WHARF_DOCKER: '', ...env } },
  );

describe.skipIf(noDocker())('--backend docker: which docker CLI', () => {
  it('passes over a docker without buildx on PATH and builds with the next one', async () => {
    const file = definition(".copy('a.txt', '/a.txt')");
    const result = await build(file, { PATH: `${dockerWithoutBuildx()}:${process.env.PATH}` });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
  });

  it('names every docker tried and WHARF_DOCKER when none can build with BuildKit', async () => {
    const bin = dockerWithoutBuildx();
    const result = await build(definition(''), { PATH: bin });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      [
        `wharf: no docker CLI on PATH can build with BuildKit (${bin}/docker: docker 24.0 without the buildx plugin ("docker buildx version" failed))`,
        '  hint: install the buildx plugin (Debian: docker-buildx), or set WHARF_DOCKER=/path/to/docker naming a CLI whose BuildKit works (docker 20.10, or one with buildx), or use the direct backend: --backend direct',
        '',
      ].join('\n'),
    );
  });

  it('says WHARF_DOCKER names a docker that cannot build, or none at all', async () => {
    const bin = dockerWithoutBuildx();
    const broken = await build(definition(''), { WHARF_DOCKER: join(bin, 'docker') });
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(
      new RegExp(
        `^wharf: cannot build with WHARF_DOCKER=${bin}/docker: docker 24\\.0 without the buildx plugin`,
      ),
    );
    expect(broken.stderr).toMatch(/hint: set WHARF_DOCKER to a docker CLI whose BuildKit works/);
    const missing = await build(definition(''), { WHARF_DOCKER: '/nonexistent/docker' });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(
      /^wharf: cannot build with WHARF_DOCKER=\/nonexistent\/docker: not found\n/,
    );
  });

  it('a failed docker build shows docker’s output once and no advice to use --progress plain', async () => {
    // scratch has no /bin/sh: BuildKit fails the RUN
    const file = definition(".run('echo never')");
    const plain = await build(file, {});
    expect(plain.code).toBe(1);
    expect(plain.stderr).toMatch(/RUN echo never/);
    expect(plain.stderr).toMatch(/hint: docker built the Dockerfile wharf emits for this definition/);
    expect(plain.stderr).not.toMatch(/--progress/);
    const quiet = await build(file, {}, 'quiet');
    expect(quiet.code).toBe(1);
    expect(quiet.stderr).toMatch(/^wharf: docker build failed \(exit 1\):\n/); // the last lines, in the error
  });
});
