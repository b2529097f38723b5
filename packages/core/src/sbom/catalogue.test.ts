import { chmod, mkdtemp, open, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WharfError } from '../errors.js';
import { emptyImage } from '../image/empty.js';
import { appendLayers } from '../image/mutate.js';
import { MediaType } from '../oci/index.js';
import { openStore } from '../store/index.js';
import { fileLayer } from '../testing/index.js';
import { catalogueImage } from './catalogue.js';

const stanza = (name: string, version: string, status = 'install ok installed') =>
  `Package: ${name}\nStatus: ${status}\nArchitecture: amd64\nVersion: ${version}\nDescription: x\n continued\n`;

describe('catalogueImage', () => {
  it('attributes each dpkg package to the first layer whose database listed it, and drops removed ones', async () => {
    const base = await fileLayer({
      'etc/os-release': 'ID=debian\nVERSION_ID="12"\n',
      'var/lib/dpkg/status': [stanza('libc6', '2.36-9'), stanza('gone', '1')].join('\n'),
    });
    const top = await fileLayer({
      'var/lib/dpkg/status': [
        stanza('libc6', '2.36-9'),
        stanza('curl', '7.88.1-10'),
        stanza('halfway', '1', 'deinstall ok config-files'),
      ].join('\n'),
      'var/lib/dpkg/status.d/distroless-pkg': 'Package: tzdata\nVersion: 2024a\nArchitecture: all\n',
      'var/lib/dpkg/status.d/distroless-pkg.md5sums': 'not a database',
    });
    const image = appendLayers(emptyImage(), base, top);
    const { packages, distro } = await catalogueImage(image);
    expect(distro).toEqual({ id: 'debian', versionId: '12' });
    expect(packages.map((p) => [p.name, p.version, p.layer, p.path])).toEqual([
      ['curl', '7.88.1-10', await top.diffId(), '/var/lib/dpkg/status'],
      ['libc6', '2.36-9', await base.diffId(), '/var/lib/dpkg/status'],
      ['tzdata', '2024a', await top.diffId(), '/var/lib/dpkg/status.d/distroless-pkg'],
    ]);
    expect(packages[0]?.purl).toBe('pkg:deb/debian/curl@7.88.1-10?arch=amd64&distro=debian-12');
  });

  it('reads apk, npm (npm and pnpm layouts, scoped) and python metadata, with licences', async () => {
    const layer = await fileLayer({
      'lib/apk/db/installed':
        'P:musl\nV:1.2.4-r2\nA:x86_64\nL:MIT\no:musl\n\nP:busybox\nV:1.36.1-r5\nL:GPL-2.0-only\n',
      'app/node_modules/left-pad/package.json': JSON.stringify({
        name: 'left-pad',
        version: '1.3.0',
        license: 'WTFPL',
      }),
      'app/node_modules/left-pad/lib/package.json': JSON.stringify({ name: 'not-a-package', version: '0' }),
      'app/node_modules/@scope/tool/package.json': JSON.stringify({
        name: '@scope/tool',
        version: '2.0.0',
        license: { type: 'MIT' },
      }),
      'app/node_modules/.pnpm/ms@2.1.3/node_modules/ms/package.json': JSON.stringify({
        name: 'ms',
        version: '2.1.3',
        license: 'MIT',
      }),
      'app/node_modules/broken/package.json': '{ not json',
      'usr/lib/python3/dist-packages/Requests_Toolbelt-1.0.dist-info/METADATA':
        'Metadata-Version: 2.1\nName: Requests_Toolbelt\nVersion: 1.0.0\nLicense: Apache 2.0\n\nName: body-is-not-headers\n',
      'usr/lib/python3/site-packages/six-1.16.0.egg-info/PKG-INFO':
        'Name: six\nVersion: 1.16.0\nLicense: MIT\n',
    });
    const { packages } = await catalogueImage(appendLayers(emptyImage(), layer));
    expect(packages.map((p) => [p.type, p.name, p.version, p.licence, p.purl])).toEqual([
      ['apk', 'busybox', '1.36.1-r5', 'GPL-2.0-only', 'pkg:apk/alpine/busybox@1.36.1-r5'],
      ['apk', 'musl', '1.2.4-r2', 'MIT', 'pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64'],
      ['npm', '@scope/tool', '2.0.0', 'MIT', 'pkg:npm/%40scope/tool@2.0.0'],
      ['npm', 'left-pad', '1.3.0', 'WTFPL', 'pkg:npm/left-pad@1.3.0'],
      ['npm', 'ms', '2.1.3', 'MIT', 'pkg:npm/ms@2.1.3'],
      ['pypi', 'Requests_Toolbelt', '1.0.0', 'Apache 2.0', 'pkg:pypi/requests-toolbelt@1.0.0'],
      ['pypi', 'six', '1.16.0', 'MIT', 'pkg:pypi/six@1.16.0'],
    ]);
  });

  it('honours whiteouts, opaque folders and a file that replaces a folder', async () => {
    const pkg = (name: string) => JSON.stringify({ name, version: '1.0.0' });
    const lower = await fileLayer({
      'a/node_modules/x/package.json': pkg('x'),
      'b/node_modules/y/package.json': pkg('y'),
      'c/node_modules/z/package.json': pkg('z'),
      'd/node_modules/w/package.json': pkg('w'),
      'var/lib/dpkg/status': stanza('bash', '5.2'),
    });
    const upper = await fileLayer({
      'a/node_modules/.wh.x': '',
      'b/node_modules/.wh..wh..opq': '',
      'b/node_modules/kept/package.json': pkg('kept'),
      c: 'a file where a folder was',
      'var/lib/dpkg/.wh.status': '',
    });
    const { packages } = await catalogueImage(appendLayers(emptyImage(), lower, upper));
    expect(packages.map((p) => `${p.name} ${p.path} ${p.layer}`)).toEqual([
      `kept /b/node_modules/kept/package.json ${await upper.diffId()}`,
      `w /d/node_modules/w/package.json ${await lower.diffId()}`,
    ]);
  });

  it('ignores member names that climb out of the root', async () => {
    const layer = await fileLayer({
      'x/../../node_modules/evil/package.json': JSON.stringify({ name: 'evil', version: '1' }),
    });
    expect((await catalogueImage(appendLayers(emptyImage(), layer))).packages).toEqual([]);
  });

  it('refuses an oversized database with one line naming the file and layer', async () => {
    const layer = await fileLayer({
      'node_modules/huge/package.json': Buffer.alloc(4 * 1024 * 1024 + 1, 0x20),
    });
    const error = await catalogueImage(appendLayers(emptyImage(), layer)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WharfError);
    expect((error as WharfError).code).toBe('SBOM_FILE_TOO_LARGE');
    expect((error as WharfError).message).toContain(
      `/node_modules/huge/package.json in layer ${await layer.diffId()}`,
    );
  });
});

describe('catalogueImage from the tars the store keeps', () => {
  const dirs: string[] = [];
  afterAll(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));
  const store = async () => {
    const root = await mkdtemp(join(tmpdir(), 'wharf-sbom-store-'));
    dirs.push(root);
    return openStore({ root });
  };
  const pkg = (name: string) => JSON.stringify({ name, version: '1.0.0', license: 'MIT' });
  // a member past the reader's chunk, skipped by moving the offset, between databases
  const files = {
    lower: {
      'etc/os-release': 'ID=debian\nVERSION_ID="12"\n',
      'var/lib/dpkg/status': [stanza('libc6', '2.36-9'), stanza('bash', '5.2')].join('\n'),
      'a/node_modules/x/package.json': pkg('x'),
      'big/blob.bin': Buffer.alloc(3 * 1024 * 1024 + 17, 0x61),
      'b/node_modules/y/package.json': pkg('y'),
      'c/node_modules/z/package.json': pkg('z'),
    },
    upper: {
      'a/node_modules/.wh.x': '',
      c: 'a file where a folder was',
      'var/lib/dpkg/status': [stanza('libc6', '2.36-9'), stanza('curl', '7.88.1-10')].join('\n'),
      'more/blob.bin': Buffer.alloc(600 * 1024, 0x62),
      'app/node_modules/@s/t/package.json': pkg('@s/t'),
    },
  };

  it('gives the catalogue the gzipped layers give, read from the stored tar files', async () => {
    const blobs = await store();
    const plain = { store: blobs, mediaType: MediaType.ociLayer };
    const stored = appendLayers(
      emptyImage(),
      await fileLayer(files.lower, plain),
      await fileLayer(files.upper, plain),
    );
    const gzipped = appendLayers(emptyImage(), await fileLayer(files.lower), await fileLayer(files.upper));
    const expected = await catalogueImage(gzipped);
    expect(expected.packages.map((p) => p.name)).toEqual(['curl', 'libc6', '@s/t', 'y']);
    expect(await catalogueImage(stored)).toEqual(expected);
  });

  it('a database longer than a read (one buffer reused for every read) is read whole', async () => {
    const blobs = await store();
    const long = ` ${'x'.repeat(8000)}\n`;
    const status = Array.from({ length: 300 }, (_, i) => stanza(`p${i}`, `1.${i}`) + long).join('\n');
    expect(status.length).toBeGreaterThan(2 * 1024 * 1024);
    const layer = { 'pad.bin': Buffer.alloc(700 * 1024, 0x63), 'var/lib/dpkg/status': status };
    const stored = appendLayers(
      emptyImage(),
      await fileLayer(layer, { store: blobs, mediaType: MediaType.ociLayer }),
    );
    const gzipped = appendLayers(emptyImage(), await fileLayer(layer));
    const fromStore = await catalogueImage(stored);
    expect(fromStore.packages).toHaveLength(300);
    expect(fromStore.packages.map((p) => p.purl)).toEqual(
      (await catalogueImage(gzipped)).packages.map((p) => p.purl),
    );
  });

  it('skips members without hashing them, and a stored tar cut short is SBOM_LAYER_UNREADABLE', async () => {
    const blobs = await store();
    const layer = await fileLayer(files.lower, { store: blobs, mediaType: MediaType.ociLayer });
    const file = blobs.path(await layer.diffId());
    await chmod(file, 0o644);
    // damage a skipped member: the verifying stream would fail; the walk never reads those bytes
    const handle = await open(file, 'r+');
    await handle.write(Buffer.from('damage'), 0, 6, 2 * 1024 * 1024);
    await handle.close();
    const image = appendLayers(emptyImage(), layer);
    expect((await catalogueImage(image)).packages.map((p) => p.name)).toEqual([
      'bash',
      'libc6',
      'x',
      'y',
      'z',
    ]);
    await truncate(file, 3 * 1024 * 1024);
    const error = await catalogueImage(image).catch((e: unknown) => e);
    expect((error as WharfError).code).toBe('SBOM_LAYER_UNREADABLE');
    expect((error as WharfError).message).toContain(await layer.diffId());
  });
});
