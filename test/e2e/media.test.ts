// The media wharf writes, read by the real tools: `docker load` + `docker run` (docker-archive), skopeo
// (oci-archive, layout), umoci (layout). (The OCI JSON schemas check what wharf writes in test/conformance/.)
// Starts from a real Docker image: `docker save busybox` (pulled through the loopback mirror), read
// with wharf's docker-archive reader, one layer with /hello.txt appended, Cmd set.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as archive from '@wharf/core/archive';
import { readDockerArchive, readOciArchive } from '@wharf/core/archive';
import { exportImage } from '@wharf/core/export';
import type { Image } from '@wharf/core/image';
import * as images from '@wharf/core/image';
import * as layout from '@wharf/core/layout';
import { readLayout } from '@wharf/core/layout';
import { fileLayer, validateImage, validateIndex } from '@wharf/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docker, dockerInspectImage, dockerRun } from '../helpers/docker.js';
import { noDocker, testEnv } from '../helpers/env.js';
import { tempDir } from '../helpers/paths.js';
import { requireTool, skopeoCopy, skopeoInspect, umociUnpack } from '../helpers/tools.js';

const { dockerArchiveManifest, openOciArchive, writeDockerArchive, writeOciArchive } = archive;
const { appendLayers, withConfig } = images;
const { openLayout, writeLayout } = layout;

const HELLO = 'hello from wharf\n';
const TAGS = {
  docker: 'wharf-test/media:docker-archive',
  skopeo: 'wharf-test/media:skopeo',
};

describe.skipIf(noDocker())('media written by wharf, read by docker, skopeo and umoci', () => {
  let work: string;
  let image: Image;

  beforeAll(async () => {
    work = tempDir('wharf-media-');
    const base = testEnv().busybox.ref;
    await docker(['pull', base]);
    const saved = join(work, 'busybox.tar');
    await docker(['save', '-o', saved, base]);
    // Docker 20.10 writes the classic format: manifest.json with <id>/layer.tar entries.
    expect((await dockerArchiveManifest(saved))[0]?.RepoTags).toEqual(['busybox:latest']);
    const busybox = await readDockerArchive(saved, { tag: 'busybox', flavor: 'oci' });
    await validateImage(busybox);
    image = withConfig(
      appendLayers(busybox, {
        layer: await fileLayer({ 'hello.txt': HELLO }),
        history: { created: '2000-01-01T00:00:00Z', created_by: 'wharf e2e: hello.txt' },
      }),
      (config) => ({ ...config, Cmd: ['cat', '/hello.txt'] }),
    );
    await validateImage(image);
    expect((await image.layers()).length).toBe(2);
  });

  afterAll(async () => {
    // tempDir() outside a test is only removed at worker exit, which forked workers can skip.
    if (work && !process.env.WHARF_KEEP_TEMP) rmSync(work, { recursive: true, force: true });
    for (const tag of Object.values(TAGS)) await docker(['rmi', '-f', tag]).catch(() => {});
  });

  it('docker-archive: docker load accepts it and docker run prints the file', async () => {
    const file = join(work, 'docker.tar');
    await writeDockerArchive(file, { image, names: [TAGS.docker] });
    const out = await docker(['load', '-i', file]);
    expect(out).toContain(`Loaded image: ${TAGS.docker}`);
    expect(await dockerRun({ image: TAGS.docker })).toBe(HELLO);
    const inspected = await dockerInspectImage(TAGS.docker);
    const config = await image.config();
    expect(inspected.Id).toBe((await image.configDescriptor()).digest);
    expect(inspected.RootFS.Layers).toEqual(config.rootfs.diff_ids);
    expect(inspected.Config.Cmd).toEqual(['cat', '/hello.txt']);
    // And wharf reads its own docker-archive back to the same config and layers.
    const back = await readDockerArchive(file, { tag: TAGS.docker, flavor: 'oci' });
    await validateImage(back);
    expect(Buffer.from(await back.rawConfig())).toEqual(Buffer.from(await image.rawConfig()));
  });

  it('oci-archive: skopeo inspects it and copies it into the Docker daemon', async () => {
    expect(requireTool('skopeo')).toBe(true);
    const file = join(work, 'oci.tar');
    await writeOciArchive(file, { image, names: ['wharf-test/media:oci'] });
    const info = await skopeoInspect(`oci-archive:${file}:oci`);
    expect(info.Digest).toBe(await image.digest());
    expect(info.Layers).toEqual((await image.manifest()).layers.map((l) => l.digest));
    expect(info.Architecture).toBe((await image.config()).architecture);
    const raw = await skopeoInspect(`oci-archive:${file}:oci`, { raw: true });
    expect(raw).toEqual(await image.manifest());
    await skopeoCopy(`oci-archive:${file}:oci`, `docker-daemon:${TAGS.skopeo}`);
    expect(await dockerRun({ image: TAGS.skopeo })).toBe(HELLO);
    const back = await readOciArchive(file, { ref: 'wharf-test/media:oci' });
    expect(await back.digest()).toBe(await image.digest());
    await validateIndex(await openOciArchive(file));
  });

  it('OCI layout: umoci unpacks it (rootfs has /hello.txt), skopeo reads it', async () => {
    expect(requireTool('umoci')).toBe(true);
    const dir = join(work, 'layout');
    await writeLayout(dir, { image, names: ['wharf-test/media:layout'] });
    const bundle = await umociUnpack(`${dir}:layout`, join(work, 'bundle'));
    expect(readFileSync(join(bundle, 'rootfs', 'hello.txt'), 'utf8')).toBe(HELLO);
    expect(existsSync(join(bundle, 'rootfs', 'bin', 'busybox'))).toBe(true);
    const runtime = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as {
      process: { args: string[] };
    };
    expect(runtime.process.args).toEqual(['cat', '/hello.txt']);
    const info = await skopeoInspect(`oci:${dir}:layout`);
    expect(info.Digest).toBe(await image.digest());
    const back = await readLayout(dir, { ref: 'wharf-test/media:layout' });
    await validateImage(back);
    await validateIndex(await openLayout(dir));
  });

  it('export: -o picks the medium; skopeo agrees on the digest', async () => {
    const dir = join(work, 'exported');
    const result = await exportImage(image, `type=oci,dest=${dir}`, { tags: ['hello'] });
    expect(result.digest).toBe(await image.digest());
    expect((await skopeoInspect(`oci:${dir}:latest`)).Digest).toBe(result.digest);
    const tar = join(work, 'exported.tar');
    await exportImage(image, tar, { tags: ['hello'] });
    expect((await skopeoInspect(`oci-archive:${tar}:latest`)).Digest).toBe(result.digest);
  });
});
