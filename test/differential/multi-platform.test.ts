// Two platforms in one direct build vs BuildKit building each: `build({ platforms: [amd64, arm64] })`
// pushes one index (as `wharf build --platform linux/amd64,linux/arm64 --push`) whose images, read back
// from the registry, each equal `docker build --platform X` of the same Dockerfile (file trees and configs), with a `FROM --platform=$BUILDPLATFORM` stage (native, reading TARGETARCH), a
// target-independent native stage, RUN in both kinds of stages and COPY between them.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build, lowerDockerfile } from '@wharf/core';
import { exportImage } from '@wharf/core/export';
import { remoteImage as registryImage } from '@wharf/core/registry';
import { describe, expect, it } from 'vitest';
import { buildPlatformDockerfile, comparableConfig, withoutMountStubs } from '../helpers/differential.js';
import { docker, dockerBuild } from '../helpers/docker.js';
import { noDocker, testEnv } from '../helpers/env.js';
import { readSavedImage, treeLines } from '../helpers/image-tree.js';
import { tempDir } from '../helpers/paths.js';
import { startRegistry } from '../helpers/registry.js';

const dockerfile = buildPlatformDockerfile(`FROM --platform=$BUILDPLATFORM $BASE AS shared
RUN uname -m > /shared-arch
FROM $BASE
ARG TARGETARCH
COPY --from=tools /tools-note /tools-note
COPY --from=shared /shared-arch /shared-arch
RUN uname -m > /arch && echo "arch=$TARGETARCH" >> /arch
`);

describe.skipIf(noDocker())('two platforms in one direct build match BuildKit per platform', () => {
  it('each image of the index equals docker build --platform X (files and config)', async () => {
    const dir = tempDir('wharf-diff-multi-');
    const contextDir = join(dir, 'context');
    mkdirSync(contextDir);
    writeFileSync(join(dir, 'Dockerfile'), dockerfile);
    const platforms = ['linux/amd64', 'linux/arm64'];
    const registry = await startRegistry();
    const repo = `${registry.host}/wharf-diff/multi`;
    const ref = `${repo}:1`;
    try {
      const result = await build(lowerDockerfile(dockerfile, { file: 'Dockerfile' }), {
        contextDir,
        cacheDir: join(dir, 'cache'),
        platforms,
        output: 'type=registry',
        tags: [ref],
        registry: { mirrors: [testEnv().mirror.url] },
      });
      expect(result.indexDigest).toBe(result.digest);
      expect(result.pushed).toEqual([`${ref}@${result.digest}`]);
      expect(result.platforms.map((p) => p.platform)).toEqual(platforms);
      for (const platform of platforms) {
        const tag = `wharf-diff/multi-${platform.replace('/', '-')}:latest`;
        await dockerBuild({
          contextDir,
          dockerfile: join(dir, 'Dockerfile'),
          tag,
          args: ['--platform', platform],
        });
        const saved = join(dir, `buildkit-${platform.replace('/', '-')}.tar`);
        await docker(['save', '-o', saved, tag]);
        const image = registryImage(`${repo}@${result.digest}`, { platform });
        const ours = join(dir, `direct-${platform.replace('/', '-')}.tar`);
        await exportImage(image, { type: 'docker-archive', dest: ours, names: [] });
        const [bk, wh] = await Promise.all([readSavedImage(saved), readSavedImage(ours)]);
        // BuildKit 20.10's stray empty /etc/hosts and /etc/resolv.conf RUN-mount stubs are not content
        expect(treeLines(wh.tree), platform).toEqual(treeLines(withoutMountStubs(bk.tree, wh.tree)));
        expect(comparableConfig(wh.config), platform).toEqual(comparableConfig(bk.config));
        await docker(['rmi', tag]);
      }
      // The pushed index runs as each platform: arm64 emulated.
      const arch = await docker([
        'run',
        '--rm',
        '--platform',
        'linux/arm64',
        `${repo}@${result.digest}`,
        'cat',
        '/arch',
      ]);
      expect(arch.split('\n')[0]).toBe('aarch64');
    } finally {
      await registry.stop();
    }
  });
});
