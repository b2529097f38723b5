/**
 * Attacks found by reviewing the trust-boundary defences (issue 13, "look for the next one"): each
 * builds a hostile Dockerfile with the direct backend and checks the host is untouched.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lowerDockerfile } from '@wharf/core';
import { buildImage } from '@wharf/core/engine';
import { exportImage } from '@wharf/core/export';
import { pack } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { extractLayer } from '../../packages/core/src/runtime/extract.js';
import { noDocker, testEnv } from '../helpers/env.js';
import { readSavedImage } from '../helpers/image-tree.js';
import { tempDir } from '../helpers/paths.js';
import { useSnapshotter } from '../helpers/snapshotter.js';

const isRoot = process.getuid?.() === 0;

/** Builds `dockerfile` with the direct backend in a fresh context holding `files`; the error, if any. */
async function buildDirect(
  dockerfile: string,
  files: Record<string, string> = {},
): Promise<Error | undefined> {
  const work = tempDir('wharf-review-');
  const contextDir = join(work, 'context');
  mkdirSync(contextDir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(contextDir, name), text);
  try {
    await buildImage(lowerDockerfile(dockerfile, { file: 'Dockerfile' }), {
      contextDir,
      cacheDir: join(work, 'cache'),
      registry: { mirrors: [testEnv().mirror.url] },
    });
    return undefined;
  } catch (error) {
    return error as Error;
  }
}

describe.skipIf(noDocker() || !isRoot)('review: hostile steps cannot reach the host', () => {
  it('a step that swaps the parent of a mount stub for a symlink to a host directory does not delete the host file', async () => {
    const victimDir = tempDir('wharf-victim-');
    const victim = join(victimDir, 'victim');
    writeFileSync(victim, `host-file-${randomUUID()}\n`);
    // /stub/victim is created as a file stub for the bind mount, and removed after the step: the step
    // renames /stub away and puts `/stub -> <victimDir>` in its place.
    await buildDirect(
      `FROM busybox
RUN --mount=type=bind,source=f,target=/stub/victim sh -c 'mv /stub /stub2 && ln -s ${victimDir} /stub'
`,
      { f: 'context file\n' },
    );
    expect(existsSync(victim)).toBe(true);
  });
});

type Member = { name: string; type?: 'file' | 'directory' | 'symlink'; mode?: number; linkname?: string };

/** A layer tar of `members`, in order (empty files by default). */
async function layerTar(members: readonly Member[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const chunk of p) chunks.push(chunk as Buffer);
  })();
  for (const m of members) {
    const type = m.type ?? 'file';
    const header = { mode: m.mode ?? (type === 'directory' ? 0o755 : 0o644), ...m, type, mtime: new Date(0) };
    if (type === 'file') p.entry(header, '');
    else p.entry(header);
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** Extracts `members` in both formats; the host directory `victimDir` (file `victim`, mode 0600) must be untouched. */
async function expectHostUntouched(members: (victimDir: string) => Member[]): Promise<void> {
  for (const format of ['overlay', 'apply'] as const) {
    const victimDir = tempDir('wharf-victim-');
    const victim = join(victimDir, 'victim');
    writeFileSync(victim, 'host file\n', { mode: 0o600 });
    const dirMode = statSync(victimDir).mode;
    const dest = tempDir('wharf-layer-');
    await extractLayer([await layerTar(members(victimDir))], dest, { format }).catch(() => undefined);
    expect(readFileSync(victim, 'utf8'), format).toBe('host file\n');
    expect(statSync(victim).mode & 0o7777, format).toBe(0o600);
    expect(statSync(victimDir).mode, format).toBe(dirMode);
  }
}

describe.skipIf(noDocker() || !isRoot)('review: a step cannot hide files from its layer', () => {
  // Both snapshotters, whatever WHARF_SNAPSHOTTER the run has: the overlay upper dir and the copy are
  // each the tree the next step starts from, so each must give a layer that holds what it holds.
  describe.each(['overlay', 'copy'] as const)('with %s snapshots', (mode) => {
    useSnapshotter(mode);

    it('a file planted at a mount target (its parent moved away and made again) is in the layer, not only in the snapshot', async () => {
      // The next step sees what the layer holds: with the snapshot holding a file the layer left out,
      // `RUN cat` saw it here while the image (and a rebuild from it, or another build sharing the
      // snapshot of that layer) did not have it.
      const work = tempDir('wharf-review-');
      const result = await buildImage(
        lowerDockerfile(
          `FROM busybox
RUN --mount=type=tmpfs,target=/x/m sh -c 'mv /x /y && mkdir -p /x/m && echo HIDDEN > /x/m/evil'
RUN cat /x/m/evil > /seen
`,
          { file: 'Dockerfile' },
        ),
        { contextDir: work, cacheDir: join(work, 'cache'), registry: { mirrors: [testEnv().mirror.url] } },
      );
      const saved = join(work, 'image.tar');
      await exportImage(result.image, { type: 'docker-archive', dest: saved });
      const { tree } = await readSavedImage(saved);
      expect(tree.get('/seen')?.size).toBe('HIDDEN\n'.length);
      expect(tree.get('/x/m/evil')?.size).toBe('HIDDEN\n'.length);
    });

    it('a file planted over a runtime-provided file (/etc/hosts, after moving /etc away) is in the layer too', async () => {
      // A bind mount from a stage reads that stage's snapshot; the image has its layers: both must agree.
      const work = tempDir('wharf-review-');
      writeFileSync(join(work, 'hosts'), 'original\n');
      const result = await buildImage(
        lowerDockerfile(
          `FROM busybox AS a
COPY hosts /etc/hosts
RUN sh -c 'cp -a /etc /etc2 && mv /etc /etc3 && mv /etc2 /etc && echo PLANTED > /etc/hosts || true'
FROM a
RUN --mount=type=bind,from=a,target=/a cp /a/etc/hosts /seen-hosts
`,
          { file: 'Dockerfile' },
        ),
        { contextDir: work, cacheDir: join(work, 'cache'), registry: { mirrors: [testEnv().mirror.url] } },
      );
      const saved = join(work, 'image.tar');
      await exportImage(result.image, { type: 'docker-archive', dest: saved });
      const { tree } = await readSavedImage(saved);
      // overlayfs cannot rename a lower directory holding mount points (EXDEV, then EBUSY): there the
      // attack fails and both see the original
      const planted = mode === 'copy' ? 'PLANTED\n' : 'original\n';
      expect(tree.get('/etc/hosts')?.size).toBe(planted.length);
      expect(tree.get('/seen-hosts')?.sha256).toBe(tree.get('/etc/hosts')?.sha256);
    });
  });
});

describe('review: a hostile layer cannot reach the host through a link it swaps in late', () => {
  it('a directory member later replaced by a symlink: its mode is not applied through the link', async () => {
    await expectHostUntouched((victimDir) => [
      { name: 'd/', type: 'directory', mode: 0o6777 },
      { name: 'd', type: 'symlink', linkname: victimDir },
      { name: 'f/victim/', type: 'directory', mode: 0o4777 },
      { name: 'f', type: 'symlink', linkname: victimDir },
    ]);
  });

  it('a whiteout whose parent is later replaced by a symlink deletes nothing through the link', async () => {
    await expectHostUntouched((victimDir) => [
      { name: 'd/.wh.victim' },
      { name: 'd', type: 'symlink', linkname: victimDir },
    ]);
  });

  it('a whiteout of ".." or "." is refused and deletes nothing above the layer', async () => {
    for (const format of ['overlay', 'apply'] as const) {
      for (const name of ['.wh...', '.wh..', 'a/.wh...']) {
        const top = tempDir('wharf-above-');
        writeFileSync(join(top, 'sibling'), 'kept\n');
        mkdirSync(join(top, 'fs'));
        const error = await extractLayer(
          [await layerTar([{ name: 'a/', type: 'directory' }, { name }])],
          join(top, 'fs'),
          { format },
        ).catch((e: Error & { code?: string }) => e);
        expect(existsSync(join(top, 'sibling')), `${format} ${name}`).toBe(true);
        expect(existsSync(join(top, 'fs', 'a')), `${format} ${name}`).toBe(true);
        expect(error, `${format} ${name}`).toMatchObject({ code: 'RUNTIME_UNSAFE_LAYER' });
      }
    }
  });
});
