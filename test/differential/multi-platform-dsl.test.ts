// The DSL's platform constructs against BuildKit: a definition with `define({ platforms })` (no
// platforms passed to build()), `from(…, { platform: buildPlatform })` and `platformArgs` (TARGETARCH,
// TARGETPLATFORM, BUILDPLATFORM) in RUN steps of both kinds of stages, COPY between them and from the
// context. The direct build's index and `--backend docker`'s (one `docker build --platform X` per
// platform, BuildKit's own images) hold the same two images: file trees and configs.
import { join } from 'node:path';
import { build, buildPlatform, define, stage } from '@wharf/core';
import { platformArgs } from '@wharf/core/dsl';
import { exportImage } from '@wharf/core/export';
import * as layout from '@wharf/core/layout';
import * as oci from '@wharf/core/oci';
import { describe, expect, it } from 'vitest';
import { BUSYBOX_MULTI } from '../helpers/base-images.js';
import { comparableConfig, withoutMountStubs, writeContext } from '../helpers/differential.js';
import { noDocker, testEnv } from '../helpers/env.js';
import { readSavedImage, treeLines } from '../helpers/image-tree.js';
import { tempDir } from '../helpers/paths.js';

const { TARGETARCH, TARGETPLATFORM, BUILDPLATFORM } = platformArgs;

const tools = stage('tools')
  .from(BUSYBOX_MULTI.ref, { platform: buildPlatform })
  .arg(TARGETARCH, TARGETPLATFORM, BUILDPLATFORM)
  .run(`echo "$(uname -m) for ${TARGETARCH} ${TARGETPLATFORM} on ${BUILDPLATFORM}" > /tools-note`);
const app = stage('app')
  .from(BUSYBOX_MULTI.ref)
  .arg(TARGETARCH)
  .copy('hello.txt', '/app/hello.txt')
  .copy(tools, '/tools-note', '/app/tools-note')
  .run(`uname -m > /app/arch && echo "arch=${TARGETARCH}" >> /app/arch`);
const platforms = ['linux/amd64', 'linux/arm64'];
const definition = define({ target: app, platforms });

describe.skipIf(noDocker())('define({ platforms }), buildPlatform and platformArgs match BuildKit', () => {
  it('the direct index and the docker backend index hold equal images per platform', async () => {
    const dir = tempDir('wharf-diff-multi-dsl-');
    const contextDir = join(dir, 'context');
    writeContext(contextDir, { 'hello.txt': 'hello\n' });
    const registry = { mirrors: [testEnv().mirror.url] };
    const direct = await build(definition, {
      contextDir,
      cacheDir: join(dir, 'cache'),
      output: `type=oci,dest=${join(dir, 'direct')}`,
      registry,
    });
    const docker = await build(definition, {
      contextDir,
      backend: 'docker',
      output: `type=oci,dest=${join(dir, 'docker')}`,
    });
    for (const result of [direct, docker]) {
      expect(result.indexDigest).toBe(result.digest);
      expect(result.platforms.map((p) => p.platform)).toEqual(platforms);
    }
    for (const platform of platforms) {
      const [ours, theirs] = await Promise.all(
        ['direct', 'docker'].map(async (name) => {
          const image = await layout.readLayout(join(dir, name), { platform: oci.parsePlatform(platform) });
          const file = join(dir, `${name}-${platform.replace('/', '-')}.tar`);
          await exportImage(image, { type: 'docker-archive', dest: file, names: [] });
          return readSavedImage(file);
        }),
      );
      if (!ours || !theirs) throw new Error('unreachable');
      expect(treeLines(ours.tree), platform).toEqual(treeLines(withoutMountStubs(theirs.tree, ours.tree)));
      expect(comparableConfig(ours.config), platform).toEqual(comparableConfig(theirs.config));
      expect(ours.config.architecture).toBe(platform.split('/')[1]);
    }
  });
});
