// RUN's command in the direct backend: a lone heredoc that starts with `#!` runs as a script file
// (BuildKit's /dev/pipes/<NAME>, mode 0755, read-only), any other lone heredoc under SHELL.
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileDigests } from '../cache/file-digests.js';
import { lowerDockerfile } from '../dockerfile/index.js';
import type { RunInstruction } from '../ir/types.js';
import { resolveRun, runCommand } from './run-step.js';
import { openMountSource, type SourceResolver } from './sources.js';

/** The one RUN of `FROM scratch` + `run`, lowered from Dockerfile text. */
function run(text: string): RunInstruction {
  const graph = lowerDockerfile(`FROM scratch\n${text}`);
  const instruction = graph.stages[0]?.instructions.find((i) => i.kind === 'run');
  if (instruction?.kind !== 'run') throw new Error(`no RUN in ${text}`);
  return instruction;
}

describe('runCommand', () => {
  it('runs a lone heredoc with a shebang as the file /dev/pipes/<NAME>, by its interpreter', () => {
    const body = '#!/usr/bin/env python3\nprint("hi")\n';
    expect(runCommand(run(`RUN <<EOF\n${body}EOF\n`), {})).toEqual({
      argv: ['/dev/pipes/EOF'],
      script: { name: 'EOF', content: body },
    });
    // <<- strips the tabs first, so a tab-indented shebang is still a shebang; a quoted name is the name
    expect(runCommand(run(`RUN <<-"run.sh"\n\t#!/bin/sh\n\techo a\nrun.sh\n`), {})).toEqual({
      argv: ['/dev/pipes/run.sh'],
      script: { name: 'run.sh', content: '#!/bin/sh\necho a\n' },
    });
  });

  it('runs any other lone heredoc under SHELL, and a heredoc whose shebang is not on the first byte too', () => {
    expect(runCommand(run('RUN <<EOF\necho hi\nEOF\n'), {})).toEqual({
      argv: ['/bin/sh', '-c', 'echo hi\n'],
    });
    expect(runCommand(run('RUN <<EOF\n #!/bin/bash\nEOF\n'), { Shell: ['/bin/ash', '-e', '-c'] })).toEqual({
      argv: ['/bin/ash', '-e', '-c', ' #!/bin/bash\n'],
    });
  });
});

describe('resolveRun', () => {
  it('mounts the script read-only at /dev/pipes, mode 0755, keys how it runs, and removes it on release', async () => {
    const noContext = {
      contextDir: '/nonexistent',
      contextIdentity: async () => '',
      openFrom: async () => {
        throw new Error('no from');
      },
    };
    const resolved = await resolveRun(
      run('RUN <<EOF\n#!/bin/sh\necho hi\nEOF\n'),
      {},
      () => undefined,
      noContext,
    );
    expect(resolved.command).toEqual(['/dev/pipes/EOF']);
    const [mount] = resolved.mounts;
    expect(mount).toMatchObject({ type: 'bind', target: '/dev/pipes' });
    expect(mount).not.toHaveProperty('readwrite');
    const source = (mount as { source: string }).source;
    expect(await readFile(join(source, 'EOF'), 'utf8')).toBe('#!/bin/sh\necho hi\n');
    expect((await stat(join(source, 'EOF'))).mode & 0o777).toBe(0o755);
    expect(resolved.inputs).toEqual({ 'script /dev/pipes/EOF': 'heredoc' });
    await resolved.release();
    await expect(stat(source)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('a RUN bind from a context folder (named context or --build-context)', () => {
  it('is keyed by the folder’s files, not its name: a changed file changes the key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wharf-bind-ctx-'));
    try {
      await writeFile(join(dir, 'f.txt'), 'one\n');
      const digests = await FileDigests.open(join(dir, '..', `${Date.now()}-digests.json`));
      const resolver = {
        namedContext: (name: string) => (name === 'extra' ? { dir } : undefined),
        buildContextDir: (ref: string) => (ref === 'extra' ? dir : undefined),
      };
      const mountContext = {
        contextDir: '/nonexistent',
        contextIdentity: async () => '',
        openFrom: (from: Parameters<typeof openMountSource>[0]) =>
          openMountSource(from, resolver as unknown as SourceResolver, digests),
      };
      const inputs = async () => {
        const resolved = await resolveRun(
          run('RUN --mount=type=bind,from=extra,target=/src cat /src/f.txt'),
          {},
          () => undefined,
          mountContext,
        );
        await resolved.release();
        return resolved.inputs['bind /src'];
      };
      const before = await inputs();
      expect(before).toMatch(/^sha256:/);
      await writeFile(join(dir, 'f.txt'), 'two\n');
      expect(await inputs()).not.toBe(before);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
