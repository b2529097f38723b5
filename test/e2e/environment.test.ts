// Smoke test of the test environment itself: offline base images through the mirror, BuildKit builds,
// per-test registries, skopeo as a witness. If this fails, every Docker-backed test would.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docker, dockerBuild, dockerInspectImage, dockerRun } from '../helpers/docker.js';
import { noDocker, testEnv } from '../helpers/env.js';
import { tempDir } from '../helpers/paths.js';
import { type Registry, startRegistry } from '../helpers/registry.js';
import { requireTool, skopeoInspect } from '../helpers/tools.js';

describe.skipIf(noDocker())('test environment', () => {
  const env = testEnv();

  it('the mirror serves library/busybox and library/node', async () => {
    for (const repo of ['library/busybox/manifests/latest', 'library/node/manifests/20-alpine']) {
      const res = await fetch(`${env.mirror.url}/v2/${repo}`, {
        method: 'HEAD',
        headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' },
      });
      expect(res.status, repo).toBe(200);
    }
  });

  it('builds FROM busybox offline with BuildKit, as the non-root user', async () => {
    const ctx = tempDir();
    const tag = 'wharf-test/env-busybox:latest';
    await dockerBuild({
      contextDir: ctx,
      dockerfileText: `FROM busybox\nRUN echo hi > /hi\nUSER ${env.busybox.user.name}\n`,
      tag,
    });
    expect(await dockerRun({ image: tag, cmd: ['sh', '-c', 'cat /hi; id -u; echo $HOME'] })).toBe(
      `hi\n${env.busybox.user.uid}\n${env.busybox.user.home}\n`,
    );
    expect((await dockerInspectImage(tag)).Config.User).toBe(env.busybox.user.name);
  });

  it('builds FROM node:20-alpine: node and npm work, npm ci works offline', async () => {
    const ctx = tempDir();
    writeFileSync(join(ctx, 'package.json'), '{"name":"app","version":"1.0.0","private":true}\n');
    writeFileSync(
      join(ctx, 'package-lock.json'),
      '{"name":"app","version":"1.0.0","lockfileVersion":3,"requires":true,"packages":{"":{"name":"app","version":"1.0.0"}}}\n',
    );
    const tag = 'wharf-test/env-node:latest';
    await dockerBuild({
      contextDir: ctx,
      dockerfileText: 'FROM node:20-alpine\nWORKDIR /app\nCOPY package*.json ./\nRUN npm ci\nUSER node\n',
      tag,
    });
    expect(await dockerRun({ image: tag, cmd: ['node', '-e', 'console.log(1+1)'] })).toBe('2\n');
    expect(await dockerRun({ image: tag, cmd: ['npm', '--version'] })).toMatch(/^\d+\.\d+\.\d+\n$/);
    expect(await dockerRun({ image: tag, cmd: ['id', '-un'] })).toBe('node\n');
  });

  describe('a per-test registry', () => {
    let registry: Registry;
    beforeAll(async () => {
      registry = await startRegistry();
    });
    afterAll(async () => {
      await registry?.stop();
    });

    it('accepts docker push, and skopeo sees the image', async () => {
      expect(requireTool('skopeo')).toBe(true);
      const ref = `${registry.host}/smoke/busybox:v1`;
      await docker(['tag', env.busybox.ref, ref]);
      await docker(['push', ref]);
      const info = await skopeoInspect(`docker://${ref}`);
      expect(info.Name).toBe(`${registry.host}/smoke/busybox`);
      expect(info.Architecture).toBe(process.arch === 'x64' ? 'amd64' : process.arch);
      expect(info.Layers).toHaveLength(1);
      await docker(['rmi', ref]); // the registry's port is new every run: do not pile up local tags
    });
  });
});
