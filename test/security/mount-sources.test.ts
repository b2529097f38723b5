// Attacks on the paths a build names: RUN mount sources (bind, cache) that use symlinks to reach the
// host, a context folder whose name injects an overlay option, and an ADD archive that climbs out of
// its destination. Each case plants a marker file on the host, outside the context, and names it by
// absolute path through links; the marker must never reach a layer, the step's output or an error.
// Each Dockerfile is also built by BuildKit (dockerd 20.10), side by side: the direct backend must
// fail where BuildKit fails and read the same in-root file where BuildKit reads one.
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type BuildEvent, lowerDockerfile } from '@wharf/core';
import { buildImage } from '@wharf/core/engine';
import { exportImage } from '@wharf/core/export';
import { pack } from 'tar-stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { type ContextFile, writeContext } from '../helpers/differential.js';
import { docker, dockerBuild } from '../helpers/docker.js';
import { noDocker, testEnv } from '../helpers/env.js';
import { readSavedImage, type Tree } from '../helpers/image-tree.js';
import { tempDir } from '../helpers/paths.js';

const sha = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');

/** A host directory outside every context, holding `secret` with a unique text. */
interface Marker {
  readonly dir: string;
  readonly file: string;
  readonly text: string;
}

function plantMarker(): Marker {
  const dir = tempDir('wharf-marker-');
  const text = `host-marker-${randomUUID()}\n`;
  writeFileSync(join(dir, 'secret'), text);
  return { dir, file: join(dir, 'secret'), text };
}

type Outcome =
  | { readonly ok: true; readonly tree: Tree; readonly output: string }
  | { readonly ok: false; readonly error: string; readonly output: string };

interface Case {
  readonly name: string;
  readonly dockerfile: string;
  readonly files?: Readonly<Record<string, ContextFile>>;
  readonly prepare?: (contextDir: string) => Promise<void> | void;
}

/** Builds with the direct backend: the image tree, or the error; the steps' output either way. */
async function buildDirect(c: Case, contextDir: string, cacheDir: string): Promise<Outcome> {
  const lines: string[] = [];
  const onEvent = (e: BuildEvent) => {
    if (e.type === 'log') lines.push(e.text);
  };
  try {
    const result = await buildImage(lowerDockerfile(c.dockerfile, { file: 'Dockerfile' }), {
      contextDir,
      cacheDir,
      registry: { mirrors: [testEnv().mirror.url] },
      onEvent,
    });
    const saved = join(cacheDir, '..', 'direct.tar');
    await exportImage(result.image, { type: 'docker-archive', dest: saved });
    return { ok: true, tree: (await readSavedImage(saved)).tree, output: lines.join('\n') };
  } catch (error) {
    const e = error as Error & { hint?: string };
    return { ok: false, error: `${e.message}\n${e.hint ?? ''}`, output: lines.join('\n') };
  }
}

async function buildKit(c: Case, contextDir: string, work: string): Promise<Outcome> {
  const tag = `wharf-security/${c.name}:latest`;
  try {
    const { log } = await dockerBuild({ contextDir, dockerfileText: c.dockerfile, tag });
    const saved = join(work, 'buildkit.tar');
    await docker(['save', '-o', saved, tag]);
    return { ok: true, tree: (await readSavedImage(saved)).tree, output: log };
  } catch (error) {
    return { ok: false, error: (error as Error).message, output: '' };
  }
}

async function buildBothWays(c: Case): Promise<{ direct: Outcome; buildkit: Outcome }> {
  const work = tempDir(`wharf-security-${c.name}-`);
  const contextDir = join(work, 'context');
  mkdirSync(contextDir);
  writeContext(contextDir, c.files ?? {});
  await c.prepare?.(contextDir);
  // Side by side: a direct build must not disturb BuildKit's (its slirp4netns once unmounted BuildKit's
  // RUN rootfs: docs/security/sandbox.md, "Neighbours on the machine"; host-mounts.test.ts).
  const [direct, buildkit] = await Promise.all([
    buildDirect(c, contextDir, join(work, 'cache')),
    buildKit(c, contextDir, work),
  ]);
  return { direct, buildkit };
}

/** The marker's text is nowhere: not in a file of the image, not in the output, not in the error. */
function expectNoMarker(outcome: Outcome, marker: Marker): void {
  expect(outcome.output).not.toContain(marker.text.trim());
  if (outcome.ok) {
    const leaked = [...outcome.tree].filter(([, e]) => e.sha256 === sha(marker.text)).map(([p]) => p);
    expect(leaked).toEqual([]);
  } else {
    expect(outcome.error).not.toContain(marker.text.trim());
  }
}

/**
 * BuildKit refused the source as missing inside its tree (`failed to compute cache key: "/…" not found`,
 * or `failed to walk <its mount of the stage>/<path>: … no such file or directory`), not for another reason.
 */
function expectBuildKitNotFound(outcome: Outcome, message = /"\/[^"]*" not found/): void {
  expect(outcome.ok).toBe(false);
  expect(outcome.ok || outcome.error).toMatch(message);
}

/** The content digest of `path` in a successful build's tree. */
function fileSha(outcome: Outcome, path: string): string | undefined {
  if (!outcome.ok) throw new Error(`the build failed: ${outcome.error}`);
  return outcome.tree.get(path)?.sha256;
}

describe.skipIf(noDocker())('mount sources and ADD archives stay inside their root', () => {
  let marker: Marker;
  beforeAll(() => {
    marker = plantMarker();
  });

  it('bind from=a,source=/link with /link -> <host marker>: "not found" in stage a (as BuildKit)', async () => {
    const { direct, buildkit } = await buildBothWays({
      name: 'bind-abs-link',
      dockerfile: `FROM busybox AS a
RUN ln -s ${marker.file} /link
FROM busybox
RUN --mount=type=bind,from=a,source=/link,target=/m cat /m > /out
`,
    });
    expectNoMarker(direct, marker);
    expect(direct).toMatchObject({ ok: false });
    expect(direct.ok || direct.error).toContain(
      `source "${marker.file}" (from "/link") not found in stage a`,
    );
    expectBuildKitNotFound(buildkit);
    expectNoMarker(buildkit, marker);
  });

  it('a symlinked directory on the way reads the file inside stage a, never the host (as BuildKit)', async () => {
    const { direct, buildkit } = await buildBothWays({
      name: 'bind-dir-link',
      dockerfile: `FROM busybox AS a
RUN mkdir -p ${marker.dir} && echo in-stage > ${marker.file} && ln -s ${marker.dir} /d
FROM busybox
RUN --mount=type=bind,from=a,source=/d/secret,target=/m cat /m > /out
`,
    });
    expectNoMarker(direct, marker);
    expect(fileSha(direct, '/out')).toBe(sha('in-stage\n'));
    expect(fileSha(buildkit, '/out')).toBe(sha('in-stage\n'));
  });

  it('a relative ../.. link climbing out of stage a: "not found" (as BuildKit)', async () => {
    const up = '../'.repeat(12);
    const { direct, buildkit } = await buildBothWays({
      name: 'bind-rel-link',
      dockerfile: `FROM busybox AS a
RUN mkdir -p /x/y && ln -s ${up}${marker.dir.slice(1)} /x/y/up
FROM busybox
RUN --mount=type=bind,from=a,source=/x/y/up/secret,target=/m cat /m > /out
`,
    });
    expectNoMarker(direct, marker);
    expect(direct.ok || direct.error).toContain(
      `source "${marker.file}" (from "/x/y/up/secret") not found in stage a`,
    );
    // BuildKit too looks for the marker's path inside its mount of stage a
    expectBuildKitNotFound(
      buildkit,
      new RegExp(`buildkit-mount\\d+${marker.dir}: no such file or directory`),
    );
  });

  it('type=cache,from=a,source=<link to a host dir> does not seed the cache from the host (as BuildKit)', async () => {
    const { direct, buildkit } = await buildBothWays({
      name: 'cache-seed-link',
      dockerfile: `FROM busybox AS a
RUN ln -s ${marker.dir} /seed
FROM busybox
RUN --mount=type=cache,id=sec-${randomUUID()},from=a,source=/seed,target=/c cat /c/secret > /out
`,
    });
    expectNoMarker(direct, marker);
    expect(direct.ok || direct.error).toContain('not found in stage a');
    expectBuildKitNotFound(buildkit);
  });

  it('a context symlink hostroot -> / binds the context root, not the host root (as BuildKit)', async () => {
    const { direct, buildkit } = await buildBothWays({
      name: 'bind-hostroot',
      files: { hostroot: { symlink: '/' }, 'ctx-file': 'in context\n' },
      dockerfile: `FROM busybox
RUN --mount=type=bind,source=hostroot,target=/h cat /h/ctx-file /h${marker.file} > /out 2>/dev/null; true
`,
    });
    expectNoMarker(direct, marker);
    expect(fileSha(direct, '/out')).toBe(sha('in context\n'));
    expect(fileSha(buildkit, '/out')).toBe(sha('in context\n'));
  });

  it('a read-write bind of a context folder named x:<host dir> mounts that folder, not the host dir (as BuildKit)', async () => {
    const injected = `x:${marker.dir}`;
    const { direct, buildkit } = await buildBothWays({
      name: 'bind-rw-colon',
      files: { 'x/placeholder': 'x\n', [`${injected}/in-context`]: 'mine\n' },
      dockerfile: `FROM busybox
RUN --mount=type=bind,source=${injected},target=/m,rw ls /m > /out; cat /m/secret >> /out 2>/dev/null; true
`,
    });
    expectNoMarker(direct, marker);
    expect(fileSha(direct, '/out')).toBe(sha('in-context\n'));
    expect(fileSha(buildkit, '/out')).toBe(sha('in-context\n'));
  });

  it('ADD evil.tar (up -> .., then up/etc/passwd) writes /app/etc/passwd, never /etc/passwd (as BuildKit)', async () => {
    const evil = 'evil passwd\n';
    const { direct, buildkit } = await buildBothWays({
      name: 'add-evil-tar',
      dockerfile: 'FROM busybox\nADD evil.tar /app/\n',
      prepare: async (dir) => writeFileSync(join(dir, 'evil.tar'), await evilTar(evil)),
    });
    for (const outcome of [direct, buildkit]) {
      expect(fileSha(outcome, '/app/etc/passwd')).toBe(sha(evil));
      expect(fileSha(outcome, '/etc/passwd')).not.toBe(sha(evil));
      expect(outcome.ok && outcome.tree.get('/app/up')).toMatchObject({ type: 'symlink', link: '..' });
    }
    expect(fileSha(direct, '/etc/passwd')).toBe(fileSha(buildkit, '/etc/passwd'));
  });
});

/** A tar whose second member climbs out of the destination through its first, a link to `..`. */
async function evilTar(passwd: string): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c) => {
    chunks.push(c as Buffer);
  });
  const done = new Promise<void>((resolve) => p.on('end', () => resolve()));
  p.entry({ name: 'up', type: 'symlink', linkname: '..', mode: 0o777 });
  p.entry({ name: 'up/etc/passwd', mode: 0o644 }, passwd);
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}
