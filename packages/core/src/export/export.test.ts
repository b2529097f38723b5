import { spawnSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readDockerArchive, readOciArchive } from '../archive/index.js';
import { readLayout } from '../layout/index.js';
import { randomImage } from '../testing/index.js';
import { checkOutput, writingTo } from './destination.js';
import { exportImage } from './export.js';
import { parseOutput, splitCsv } from './output.js';

const scratch = mkdtempSync(join(tmpdir(), 'wharf-export-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('parseOutput', () => {
  it.each([
    ['type=oci,dest=out', { type: 'oci', dest: 'out', names: [] }],
    ['type=oci,dest=out.tar,tar=true', { type: 'oci-archive', dest: 'out.tar', names: [] }],
    ['type=oci,dest=out,tar=false', { type: 'oci', dest: 'out', names: [] }],
    ['type=oci-archive,dest=a.tar', { type: 'oci-archive', dest: 'a.tar', names: [] }],
    ['type=docker-archive,dest=d.tar', { type: 'docker-archive', dest: 'd.tar', names: [] }],
    ['type=docker,dest=d.tar', { type: 'docker-archive', dest: 'd.tar', names: [] }],
    ['TYPE=registry', { type: 'registry', names: [] }],
    ['type=image,push=true,name=ghcr.io/o/a:1', { type: 'registry', names: ['ghcr.io/o/a:1'] }],
    ['type=oci,dest=x,"name=a:1,b:2"', { type: 'oci', dest: 'x', names: ['a:1', 'b:2'] }],
    ['out/image.tar', { type: 'oci-archive', dest: 'out/image.tar', names: [] }],
    ['out/layout', { type: 'oci', dest: 'out/layout', names: [] }],
  ])('%s', (input, expected) => {
    expect(parseOutput(input)).toEqual(expected);
  });

  it.each([
    ['', 'EXPORT_INVALID_OUTPUT', /empty/],
    ['type=oci', 'EXPORT_INVALID_OUTPUT', /needs dest=/],
    ['dest=x', 'EXPORT_INVALID_OUTPUT', /type= is missing/],
    ['type=zip,dest=x', 'EXPORT_INVALID_OUTPUT', /unknown type "zip"/],
    ['type=oci,dest=x,colour=red', 'EXPORT_INVALID_OUTPUT', /unknown key "colour"/],
    ['type=oci,dest=x,dest=y', 'EXPORT_INVALID_OUTPUT', /given twice/],
    ['type=oci,dest=x,tar=maybe', 'EXPORT_INVALID_OUTPUT', /not a boolean/],
    ['type=oci,"dest=x', 'EXPORT_INVALID_OUTPUT', /not closed/],
    ['type=local,dest=x', 'EXPORT_UNSUPPORTED', /filesystem/],
    ['type=docker', 'EXPORT_UNSUPPORTED', /Docker daemon/],
    ['type=image', 'EXPORT_UNSUPPORTED', /push=true/],
    ['-', 'EXPORT_UNSUPPORTED', /stdout/],
  ])('rejects %j', (input, code, message) => {
    expect(() => parseOutput(input)).toThrow(message);
    try {
      parseOutput(input);
    } catch (error) {
      expect((error as { code: string }).code).toBe(code);
      expect((error as { hint?: string }).hint).toBeTruthy();
    }
  });

  it('splits CSV like Go encoding/csv', () => {
    expect(splitCsv('a=1,"b=2,3","c=""q"""')).toEqual(['a=1', 'b=2,3', 'c="q"']);
  });
});

describe('exportImage', () => {
  it('dispatches to layout and archives, with -t names and name=', async () => {
    const img = await randomImage(2);
    const digest = await img.digest();
    const dir = join(scratch, 'layout');
    expect(await exportImage(img, `type=oci,dest=${dir},name=extra:1`, { tags: ['hello'] })).toEqual({
      type: 'oci',
      dest: dir,
      digest,
      names: ['hello', 'extra:1'],
    });
    expect(await (await readLayout(dir, { ref: 'hello' })).digest()).toBe(digest);
    expect(await (await readLayout(dir, { ref: '1' })).digest()).toBe(digest);
    const oci = join(scratch, 'img.tar');
    await exportImage(img, oci, { tags: ['hello'] });
    expect(await (await readOciArchive(oci, { ref: 'latest' })).digest()).toBe(digest);
    const docker = join(scratch, 'docker.tar');
    await exportImage(img, `type=docker-archive,dest=${docker}`, { tags: ['hello'] });
    expect((await (await readDockerArchive(docker, { tag: 'hello' })).config()).rootfs).toEqual(
      (await img.config()).rootfs,
    );
    expect(statSync(docker).isFile()).toBe(true);
  });

  it('needs a name to push to, and writes nothing without one', async () => {
    const before = readdirSync(scratch);
    await expect(exportImage(await randomImage(1), 'type=registry')).rejects.toMatchObject({
      code: 'EXPORT_NO_NAME',
    });
    expect(readdirSync(scratch)).toEqual(before);
  });
});

describe('destinations', () => {
  it('a FIFO, or a file for an image layout, is refused before writing and left as it was', async () => {
    const fifo = join(scratch, 'pipe');
    spawnSync('mkfifo', [fifo]);
    const image = await randomImage(1);
    await expect(exportImage(image, `type=oci-archive,dest=${fifo}`)).rejects.toMatchObject({
      code: 'EXPORT_BAD_DEST',
      message: expect.stringMatching(/it is a FIFO/),
    });
    expect(lstatSync(fifo).isFIFO()).toBe(true);
    const file = join(scratch, 'a-file');
    writeFileSync(file, 'x');
    await expect(checkOutput(parseOutput(`type=oci,dest=${file}`))).rejects.toMatchObject({
      code: 'EXPORT_BAD_DEST',
    });
    await expect(checkOutput(parseOutput(`type=oci-archive,dest=${file}`))).resolves.toBeUndefined();
  });

  it('a filesystem error while writing names the destination and the fix', async () => {
    const error = Object.assign(new Error('EROFS: read-only file system'), {
      code: 'EROFS',
      path: '/x/.tmp',
    });
    await expect(writingTo('/x/out.tar', () => Promise.reject(error))).rejects.toMatchObject({
      code: 'EXPORT_WRITE_FAILED',
      message: 'cannot write /x/out.tar: the filesystem is read-only',
    });
  });
});
