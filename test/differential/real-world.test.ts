// Constructs real-world Dockerfiles rely on (issue 15), built from the Dockerfile text itself: by BuildKit
// (dockerd 20.10) and by the direct backend (the text lowered by wharf, bases from the same loopback mirror).
// The file trees, the configs and the config's author must match. docs/dockerfile-compat.md lists them.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lowerDockerfile } from '@wharf/core';
import { buildImage } from '@wharf/core/engine';
import { exportImage } from '@wharf/core/export';
import { describe, expect, it } from 'vitest';
import { comparableConfig, withoutMountStubs, writeContext } from '../helpers/differential.js';
import { docker, dockerBuild } from '../helpers/docker.js';
import { noDocker, testEnv } from '../helpers/env.js';
import { readSavedImage, treeLines } from '../helpers/image-tree.js';
import { tempDir } from '../helpers/paths.js';

const files = { 'a.txt': 'alpha\n', 'b.txt': 'beta\n', 'c.txt': 'gamma\n' };

/** `/proc`, `/dev`, `/sys`: runc's mount points, which BuildKit 20.10 keeps (see run.test.ts). */
const runtimeMountPoint = (line: string) => !/^\/(proc|dev|sys) dir 755 0:0$/.test(line);

interface Options {
  readonly buildArgs?: Readonly<Record<string, string>>;
  readonly target?: string;
}

/** Builds the Dockerfile text with both builders; returns both trees (as lines) and configs. */
async function buildText(name: string, dockerfile: string, options: Options = {}) {
  const dir = tempDir(`wharf-real-world-${name}-`);
  const contextDir = join(dir, 'context');
  mkdirSync(contextDir, { recursive: true });
  writeContext(contextDir, files);
  const dockerfilePath = join(dir, 'Dockerfile');
  writeFileSync(dockerfilePath, dockerfile);
  const tag = `wharf-diff/real-world-${name}:latest`;
  await dockerBuild({
    contextDir,
    dockerfile: dockerfilePath,
    tag,
    ...(options.buildArgs ? { buildArgs: { ...options.buildArgs } } : {}),
    ...(options.target ? { target: options.target } : {}),
  });
  const saved = join(dir, 'buildkit.tar');
  await docker(['save', '-o', saved, tag]);

  const buildArgs = options.buildArgs ?? {};
  const graph = lowerDockerfile(dockerfile, { file: dockerfilePath, buildArgs });
  const direct = await buildImage(graph, {
    contextDir,
    cacheDir: join(dir, 'cache'),
    buildArgs,
    ...(options.target ? { target: options.target } : {}),
    registry: { mirrors: [testEnv().mirror.url] },
  });
  const ours = join(dir, 'direct.tar');
  await exportImage(direct.image, { type: 'docker-archive', dest: ours });
  const [bk, wh] = await Promise.all([readSavedImage(saved), readSavedImage(ours)]);
  return {
    buildkit: {
      tree: treeLines(withoutMountStubs(bk.tree, wh.tree)).filter(runtimeMountPoint),
      config: comparableConfig(bk.config),
      author: bk.config.author,
    },
    direct: {
      tree: treeLines(wh.tree).filter(runtimeMountPoint),
      config: comparableConfig(wh.config),
      author: wh.config.author,
    },
  };
}

/** Both builders agree; returns BuildKit's result for extra checks. */
async function same(name: string, dockerfile: string, options: Options = {}) {
  const { buildkit, direct } = await buildText(name, dockerfile, options);
  if (process.env.WHARF_DEBUG_TREES) console.log(`${name}:\n${buildkit.tree.join('\n')}`);
  expect(direct.tree).toEqual(buildkit.tree);
  expect(direct.config).toEqual(buildkit.config);
  expect(direct.author).toEqual(buildkit.author);
  return buildkit;
}

const line = (tree: readonly string[], path: string) => tree.find((l) => l.startsWith(`${path} `));

describe.skipIf(noDocker())('real-world Dockerfiles build as BuildKit builds them', () => {
  it('a bind mount without a target is mounted at the working directory', async () => {
    const buildkit = await same(
      'bind-no-target',
      [
        'FROM busybox AS data',
        'RUN mkdir -p /w && echo from-stage > /w/marker',
        'FROM busybox',
        'WORKDIR /w',
        'RUN --mount=from=data cat /w/w/marker > /out',
        'RUN --mount=type=bind,source=a.txt,target=a.txt cat a.txt > /out2',
        '',
      ].join('\n'),
    );
    expect(line(buildkit.tree, '/out')).toMatch(/file 644 0:0/);
  });

  it('several COPY sources into "." (the WORKDIR), --chown=:group', async () => {
    const buildkit = await same(
      'copy-dot-chown-group',
      [
        'FROM busybox',
        'WORKDIR /w',
        'COPY a.txt b.txt .',
        'COPY --chown=:app c.txt ./',
        'COPY --chown=:2000 c.txt /numeric/',
        '',
      ].join('\n'),
    );
    expect(line(buildkit.tree, '/w/a.txt')).toBeDefined();
    expect(line(buildkit.tree, '/w/c.txt')).toMatch(/ 0:1000/);
    expect(line(buildkit.tree, '/numeric/c.txt')).toMatch(/ 0:2000/);
  });

  it('several COPY sources into a path not written as a directory: copied in turn, the last file wins', async () => {
    // kaniko's Dockerfile_test_copy: `COPY context/bar/doesnotexist* context/foo hello`. BuildKit has no
    // "must end with a /" rule (the classic builder's); an existing directory takes them all.
    const buildkit = await same(
      'copy-many-to-file',
      ['FROM busybox', 'COPY a.txt b.txt /one', 'COPY none* c.txt /two', 'COPY a.txt b.txt /bin', ''].join(
        '\n',
      ),
    );
    expect(line(buildkit.tree, '/one')).toMatch(/^\/one file 644 0:0 /);
    expect(line(buildkit.tree, '/bin/b.txt')).toBeDefined();
  });

  it('a JSON array followed by other text is the exec form (the text is ignored); ENTRYPOINT clears CMD', async () => {
    // kaniko's Dockerfile_test_cmd. BuildKit reads the array with Go's json.Decoder (first value only).
    const buildkit = await same(
      'json-then-text',
      ['FROM busybox AS first', 'CMD ["mycmd"]', 'FROM first', 'ENTRYPOINT ["echo"] # clears CMD', ''].join(
        '\n',
      ),
    );
    expect(buildkit.config).toMatchObject({ Entrypoint: ['echo'] });
  });

  it.each([
    ['default', {}],
    ['build arg', { buildArgs: { VARIANT: 'a' } }],
  ] as const)('FROM s-${VARIANT} names a stage (%s)', async (_, options) => {
    const dockerfile = [
      'ARG VARIANT=b',
      'FROM busybox AS s-a',
      'RUN echo a > /variant',
      'FROM busybox AS s-b',
      'RUN echo b > /variant',
      'FROM s-${VARIANT}',
      'RUN cp /variant /chosen',
      '',
    ].join('\n');
    await same(`from-stage-arg-${'buildArgs' in options ? 'a' : 'b'}`, dockerfile, options);
  });

  it('FROM base-${TARGETARCH} names the stage for the target platform', async () => {
    const dockerfile = [
      'FROM busybox AS base-amd64',
      'RUN echo amd64 > /arch',
      'FROM busybox AS base-arm64',
      'RUN echo arm64 > /arch',
      'FROM base-${TARGETARCH}',
      'RUN cp /arch /chosen',
      '',
    ].join('\n');
    const buildkit = await same('from-platform-arg-stage', dockerfile);
    expect(line(buildkit.tree, '/chosen')).toBeDefined();
  });

  it('a repeated global ARG: each default expands against the ones before', async () => {
    const buildkit = await same(
      'repeated-global-arg',
      ['ARG X=one', 'ARG X=${X}-two', 'FROM busybox', 'ARG X', 'ENV SEEN=$X', 'RUN echo "$X" > /x', ''].join(
        '\n',
      ),
    );
    expect(buildkit.config.Env).toContain('SEEN=one-two');
  });

  it('MAINTAINER sets the config author, no label', async () => {
    const buildkit = await same(
      'maintainer',
      ['FROM busybox', 'MAINTAINER Jane Doe <jane@example.com>', ''].join('\n'),
    );
    expect(buildkit.author).toBe('Jane Doe <jane@example.com>');
    expect(buildkit.config.Labels).toBeUndefined();
  });

  it('ENV expands against the environment before it; the later of ARG and ENV wins', async () => {
    const buildkit = await same(
      'env-arg-precedence',
      [
        'FROM busybox',
        'ENV A=1 B="two words" C=${A}x',
        'ENV D=env',
        'ARG D=arg',
        'RUN echo "D=$D C=$C" > /run-env',
        'ENV E=$D',
        'ENV D=env-again',
        'RUN echo "D=$D" > /run-env-2',
        '',
      ].join('\n'),
    );
    expect(buildkit.config.Env).toEqual(expect.arrayContaining(['C=x', 'E=arg', 'D=env-again']));
  });

  it('a literal backslash right before $VAR stays apart from the expansion', async () => {
    const buildkit = await same(
      'backslash-before-dollar',
      [
        'FROM busybox',
        'ARG V=val',
        'ENV A=a\\\\$V B="b\\\\${V}" C="c\\\\\\$V" D=C:\\\\dir\\\\x',
        'WORKDIR /w\\\\$V',
        'RUN echo "$A $B $C $D" > seen',
        '',
      ].join('\n'),
    );
    expect(buildkit.config.Env).toEqual(
      expect.arrayContaining(['A=a\\val', 'B=b\\val', 'C=c\\$V', 'D=C:\\dir\\x']),
    );
    expect(buildkit.config.WorkingDir).toBe('/w\\val');
  });

  it('# escape=` : backslashes are literal (also right before $VAR), a backtick escapes and continues', async () => {
    const buildkit = await same(
      'escape-backtick',
      [
        '# escape=`',
        'FROM busybox',
        'ARG V=val',
        'ENV A=C:\\dir\\$V B="x`$V" C=a\\\\b',
        'WORKDIR /w\\sub',
        'RUN echo "$A $B $C" `',
        '  > seen',
        '',
      ].join('\n'),
    );
    expect(buildkit.config.Env).toEqual(expect.arrayContaining(['A=C:\\dir\\val', 'B=x$V', 'C=a\\\\b']));
    expect(buildkit.config.WorkingDir).toBe('/w\\sub');
  });

  it('WORKDIR below a dangling symlink creates the link target, then COPY and RUN use it', async () => {
    // buildah's workdir-symlink/Dockerfile-3: /tempest -> /var/lib/tempest, which does not exist yet.
    const buildkit = await same(
      'workdir-dangling-link',
      [
        'FROM busybox',
        'RUN ln -sf /var/lib/tempest /tempest',
        'WORKDIR /tempest/lowerdir',
        'COPY a.txt ./a.txt',
        'COPY b.txt /tempest/b.txt',
        'RUN pwd > /where',
        '',
      ].join('\n'),
    );
    expect(line(buildkit.tree, '/var/lib/tempest/lowerdir/a.txt')).toBeDefined();
    expect(line(buildkit.tree, '/var/lib/tempest/b.txt')).toBeDefined();
  });

  it('every stage is a target', async () => {
    const dockerfile = [
      'FROM busybox AS test',
      'RUN echo test > /t',
      'FROM busybox',
      'RUN echo app > /a',
      '',
    ].join('\n');
    const buildkit = await same('target-unused-stage', dockerfile, { target: 'test' });
    expect(line(buildkit.tree, '/t')).toBeDefined();
  });
});

describe.skipIf(noDocker())('ONBUILD of a stage used as a base', () => {
  it('runs the triggers in the child: its RUN sees their files, its config has their ENV, OnBuild is cleared', async () => {
    const buildkit = await same(
      'onbuild-from-stage',
      [
        'FROM busybox AS parent',
        'ONBUILD RUN echo triggered > /trigger',
        'ONBUILD ENV FROM_TRIGGER=yes',
        'ONBUILD COPY a.txt /copied.txt',
        'FROM parent AS child',
        'RUN cat /trigger /copied.txt > /seen',
        '',
      ].join('\n'),
    );
    expect(buildkit.config.Env).toContain('FROM_TRIGGER=yes');
    expect(buildkit.config.OnBuild).toBeUndefined();
    expect(line(buildkit.tree, '/seen')).toBeDefined();
  });
});

describe.skipIf(noDocker())('ONBUILD COPY --from naming a stage', () => {
  it('reads the stage of the child build, not an image of that name', async () => {
    const buildkit = await same(
      'onbuild-copy-from-stage',
      [
        // BuildKit 20.10 builds a stage named only by a trigger without its own steps (a RUN there is
        // lost), so the stage here has none; wharf builds it whole, as current BuildKit does.
        'FROM busybox AS assets',
        'FROM busybox AS parent',
        'ONBUILD COPY --from=assets /bin/busybox /from-stage',
        'FROM parent AS child',
        'RUN cat /from-stage > /seen',
        '',
      ].join('\n'),
    );
    expect(line(buildkit.tree, '/from-stage')).toBeDefined();
    expect(buildkit.config.OnBuild).toBeUndefined();
  });
});
