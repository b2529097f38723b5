// Base images without Docker Hub: look-alikes of `busybox` and `node:20-alpine` assembled from host files
// (Debian's busybox-static, the host's node + npm), `docker import`ed and pushed to the mirror as
// `library/<name>`, so unchanged Dockerfiles (`FROM busybox`, `FROM node:20-alpine`) build offline.
//
//   busybox:latest   /bin/busybox + applet symlinks; users root(0), app(1000:1000, /home/app),
//                    nobody(65534); /tmp 1777; CMD ["sh"]
//   node:20-alpine   the busybox rootfs (user `node` 1000:1000, /home/node instead of `app`) + /usr/local/bin/node
//                    + the libraries `ldd` lists + npm in /usr/local/lib/node_modules/npm; CMD ["node"]
//                    (glibc, not musl: "alpine" is only the tag)
//   busybox:multi    an OCI index: the busybox rootfs for linux/amd64 and linux/arm64 (Debian's
//                    busybox-static:arm64), pushed with skopeo (foreign- and multi-platform builds)
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { docker } from './docker.js';
import { run } from './exec.js';
import { stateDir } from './paths.js';

export interface BaseImageUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export interface BaseImage {
  /** The Docker Hub name a Dockerfile uses: `busybox:latest`, `node:20-alpine`. */
  ref: string;
  /** The non-root user the image provides. */
  user: BaseImageUser;
}

export const BUSYBOX: BaseImage = {
  ref: 'busybox:latest',
  user: { name: 'app', uid: 1000, gid: 1000, home: '/home/app' },
};
export const NODE: BaseImage = {
  ref: 'node:20-alpine',
  user: { name: 'node', uid: 1000, gid: 1000, home: '/home/node' },
};

/** The PATH the look-alikes set, as the official images do. */
export const PATH_ENV = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** The host's node, copied into the node look-alikes. */
export const HOST_NODE = '/usr/bin/node';

/** `docker import` changes of a node look-alike (`nodeVersion` without the v), as node images set them. */
export function nodeImageChanges(nodeVersion: string): string[] {
  return [`ENV PATH=${PATH_ENV}`, `ENV NODE_VERSION=${nodeVersion}`, 'CMD ["node"]'];
}

/** A minimal busybox root filesystem with root, one non-root user and nobody. */
export async function buildBusyboxRootfs(
  dir: string,
  user: BaseImageUser,
  busybox = '/bin/busybox',
): Promise<void> {
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'root', `.${user.home}`, 'tmp', 'var/tmp']) {
    mkdirSync(join(dir, d), { recursive: true });
  }
  chmodSync(join(dir, 'tmp'), 0o1777);
  chmodSync(join(dir, 'var/tmp'), 0o1777);
  chmodSync(join(dir, 'root'), 0o700);
  copyFileSync(busybox, join(dir, 'bin/busybox'));
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  // `--list-full` gives each applet's canonical path (bin/sh, usr/bin/env, ...); the host's busybox
  // answers for a foreign one of the same Debian version.
  const applets = (await run('/bin/busybox', ['--list-full'])).stdout.split('\n').filter(Boolean);
  for (const a of applets) {
    if (a === 'bin/busybox') continue;
    mkdirSync(join(dir, dirname(a)), { recursive: true });
    symlinkSync('/bin/busybox', join(dir, a));
  }
  const { name, uid, gid, home } = user;
  writeFileSync(
    join(dir, 'etc/passwd'),
    `root:x:0:0:root:/root:/bin/sh\n${name}:x:${uid}:${gid}:${name}:${home}:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n`,
  );
  writeFileSync(join(dir, 'etc/group'), `root:x:0:\n${name}:x:${gid}:\nnogroup:x:65534:\n`);
}

/** Adds the host's node (with its shared libraries and loader) and npm under /usr/local, like node images. */
export async function addNode(dir: string): Promise<void> {
  const bin = join(dir, 'usr/local/bin');
  mkdirSync(bin, { recursive: true });
  copyFileSync(HOST_NODE, join(bin, 'node'));
  chmodSync(join(bin, 'node'), 0o755);
  // `ldd` lines: "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" and "/lib64/ld-linux-x86-64.so.2 (0x...)".
  for (const m of (await run('ldd', [HOST_NODE])).stdout.matchAll(/(\/\S+) \(0x/g)) {
    const lib = m[1] as string;
    mkdirSync(join(dir, dirname(lib)), { recursive: true });
    copyFileSync(lib, join(dir, lib)); // follows symlinks: the image gets the real file under the linked name
  }
  // npm ships beside node: <prefix>/lib/node_modules/npm for /usr/bin/node → /usr/lib/node_modules/npm.
  const npmDir = join(dirname(dirname(realpathSync(HOST_NODE))), 'lib/node_modules/npm');
  cpSync(npmDir, join(dir, 'usr/local/lib/node_modules/npm'), { recursive: true, verbatimSymlinks: true });
  symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(bin, 'npm'));
  symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(bin, 'npx'));
  // npm's global config (<prefix>/etc/npmrc): containers have no network, so skip the calls that need one.
  mkdirSync(join(dir, 'usr/local/etc'), { recursive: true });
  writeFileSync(join(dir, 'usr/local/etc/npmrc'), 'update-notifier=false\nfund=false\naudit=false\n');
}

/** `docker import`s the tar as `ref`, with Dockerfile-style `changes` (ENV, CMD …). */
export async function dockerImport(tarFile: string, ref: string, changes: readonly string[]): Promise<void> {
  await docker(['import', ...changes.flatMap((c) => ['--change', c]), tarFile, ref]);
}

/**
 * `<dir>.tar` of `dir`: root-owned, sorted, mtime 0, except `user`'s home (when given) with its ids.
 * Ownership comes from tar flags, not the files, so this does not depend on who built the tree.
 */
export async function tarRootfs(
  dir: string,
  user?: Pick<BaseImageUser, 'home' | 'uid' | 'gid'>,
): Promise<string> {
  const tarFile = `${dir}.tar`;
  const common = ['--numeric-owner', '--sort=name', '--mtime=@0', '-C', dir];
  const exclude = user ? [`--exclude=.${user.home}`] : [];
  await run('tar', [...common, '--owner=0', '--group=0', ...exclude, '-cf', tarFile, '.']);
  if (user) {
    await run('tar', [
      ...common,
      `--owner=${user.uid}`,
      `--group=${user.gid}`,
      '-rf',
      tarFile,
      `.${user.home}`,
    ]);
  }
  return tarFile;
}

async function mirrorHasTag(mirrorUrl: string, repo: string, tag: string): Promise<boolean> {
  const res = await fetch(`${mirrorUrl}/v2/${repo}/manifests/${tag}`, {
    method: 'HEAD',
    headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' },
  }).catch(() => undefined);
  return res?.status === 200;
}

/** What the images are made of: this file, and the versions of the host binaries copied in. */
async function inputsKey(nodeVersion: string): Promise<string> {
  const busyboxVersion = (await run('/bin/busybox', ['--help'])).stdout.split('\n')[0] ?? '';
  return createHash('sha256')
    .update(readFileSync(fileURLToPath(import.meta.url)))
    .update(`${nodeVersion}\n${busyboxVersion}`)
    .digest('hex');
}

export interface EnsureBaseImagesResult {
  busybox: BaseImage;
  node: BaseImage;
  /** Which images were (re)built this time; empty on a warm run. */
  rebuilt: string[];
}

/**
 * Builds and pushes each look-alike unless the mirror already has the tag AND the marker in the state dir
 * records the same inputs key. Also tags the image locally under its Docker Hub name.
 */
export async function ensureBaseImages(mirror: {
  host: string;
  url: string;
}): Promise<EnsureBaseImagesResult> {
  const nodeVersion = (await run(HOST_NODE, ['--version'])).stdout.trim().replace(/^v/, '');
  const key = await inputsKey(nodeVersion);
  const markers = join(stateDir(), 'base-images');
  mkdirSync(markers, { recursive: true });
  const rebuilt: string[] = [];
  const specs = [
    { image: BUSYBOX, withNode: false, changes: [`ENV PATH=${PATH_ENV}`, 'CMD ["sh"]'] },
    { image: NODE, withNode: true, changes: nodeImageChanges(nodeVersion) },
  ];
  for (const { image, withNode, changes } of specs) {
    const [name, tag] = image.ref.split(':') as [string, string];
    const marker = join(markers, `${name}-${tag}.key`);
    const markerKey = (() => {
      try {
        return readFileSync(marker, 'utf8');
      } catch {
        return '';
      }
    })();
    if (markerKey === key && (await mirrorHasTag(mirror.url, `library/${name}`, tag))) continue;

    const work = mkdtempSync(join(tmpdir(), 'wharf-base-'));
    const mirrorRef = `${mirror.host}/library/${image.ref}`;
    try {
      const dir = join(work, 'rootfs');
      await buildBusyboxRootfs(dir, image.user);
      if (withNode) await addNode(dir);
      await dockerImport(await tarRootfs(dir, image.user), mirrorRef, changes);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
    await docker(['push', mirrorRef]);
    await docker(['tag', mirrorRef, image.ref]);
    writeFileSync(marker, key);
    rebuilt.push(image.ref);
  }
  if (await ensureMultiPlatformBusybox(mirror, key)) rebuilt.push(BUSYBOX_MULTI.ref);
  return { busybox: BUSYBOX, node: NODE, rebuilt };
}

/**
 * `busybox:multi`: one OCI index with a linux/amd64 and a linux/arm64 image (the busybox rootfs above
 * with Debian's busybox-static for each architecture: the host's, and `busybox-static:arm64` from apt,
 * kept in the state dir), for foreign- and multi-platform builds.
 */
export const BUSYBOX_MULTI: BaseImage = { ref: 'busybox:multi', user: BUSYBOX.user };

const MULTI_PLATFORMS = ['amd64', 'arm64'] as const;

/** The arm64 busybox binary from Debian's busybox-static:arm64 (downloaded once into the state dir). */
async function foreignBusybox(arch: string): Promise<{ path: string; deb: string }> {
  const dir = join(stateDir(), 'debs', arch);
  mkdirSync(dir, { recursive: true });
  const find = () =>
    readdirSync(dir).find((f) => f.startsWith('busybox-static_') && f.endsWith(`_${arch}.deb`));
  if (!find()) {
    await run('apt-get', ['download', `busybox-static:${arch}`], { cwd: dir }).catch((error: Error) => {
      throw new Error(
        `cannot download busybox-static:${arch} (run scripts/test-env.sh: it adds the ${arch} dpkg architecture): ${error.message}`,
      );
    });
  }
  const deb = find() as string;
  const unpacked = join(dir, 'unpacked');
  if (!existsSync(join(unpacked, 'bin/busybox'))) {
    rmSync(unpacked, { recursive: true, force: true });
    await run('dpkg-deb', ['-x', join(dir, deb), unpacked]);
  }
  return { path: join(unpacked, 'bin/busybox'), deb };
}

function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Writes `data` as a blob of the OCI layout `dir`; returns its descriptor. */
function writeBlob(dir: string, mediaType: string, data: Buffer | string) {
  const digest = sha256(data);
  mkdirSync(join(dir, 'blobs/sha256'), { recursive: true });
  writeFileSync(join(dir, 'blobs/sha256', digest.slice('sha256:'.length)), data);
  return { mediaType, digest, size: Buffer.byteLength(data) };
}

/** Builds and pushes `busybox:multi` unless the mirror has it and the marker has the same inputs. */
async function ensureMultiPlatformBusybox(
  mirror: { host: string; url: string },
  key: string,
): Promise<boolean> {
  const arm64 = await foreignBusybox('arm64');
  const inputs = createHash('sha256').update(`${key}\n${arm64.deb}`).digest('hex');
  const marker = join(stateDir(), 'base-images', 'busybox-multi.key');
  const recorded = existsSync(marker) ? readFileSync(marker, 'utf8') : '';
  const [name, tag] = BUSYBOX_MULTI.ref.split(':') as [string, string];
  if (recorded === inputs && (await mirrorHasIndex(mirror.url, `library/${name}`, tag))) return false;

  const work = mkdtempSync(join(tmpdir(), 'wharf-base-multi-'));
  try {
    const layout = join(work, 'layout');
    const manifests = [];
    for (const architecture of MULTI_PLATFORMS) {
      const rootfs = join(work, architecture);
      await buildBusyboxRootfs(
        rootfs,
        BUSYBOX_MULTI.user,
        architecture === 'arm64' ? arm64.path : '/bin/busybox',
      );
      const tar = readFileSync(await tarRootfs(rootfs, BUSYBOX_MULTI.user));
      const layer = writeBlob(layout, 'application/vnd.oci.image.layer.v1.tar+gzip', gzipSync(tar));
      const config = writeBlob(
        layout,
        'application/vnd.oci.image.config.v1+json',
        JSON.stringify({
          architecture,
          os: 'linux',
          config: { Env: [`PATH=${PATH_ENV}`], Cmd: ['sh'] },
          rootfs: { type: 'layers', diff_ids: [sha256(tar)] },
        }),
      );
      const manifest = writeBlob(
        layout,
        'application/vnd.oci.image.manifest.v1+json',
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config,
          layers: [layer],
        }),
      );
      manifests.push({ ...manifest, platform: { architecture, os: 'linux' } });
    }
    const indexMediaType = 'application/vnd.oci.image.index.v1+json';
    const index = writeBlob(
      layout,
      indexMediaType,
      JSON.stringify({ schemaVersion: 2, mediaType: indexMediaType, manifests }),
    );
    writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    writeFileSync(
      join(layout, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [{ ...index, annotations: { 'org.opencontainers.image.ref.name': tag } }],
      }),
    );
    await run('skopeo', [
      'copy',
      '--all',
      '--dest-tls-verify=false',
      `oci:${layout}:${tag}`,
      `docker://${mirror.host}/library/${BUSYBOX_MULTI.ref}`,
    ]);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  writeFileSync(marker, inputs);
  return true;
}

async function mirrorHasIndex(mirrorUrl: string, repo: string, tag: string): Promise<boolean> {
  const res = await fetch(`${mirrorUrl}/v2/${repo}/manifests/${tag}`, {
    method: 'HEAD',
    headers: { accept: 'application/vnd.oci.image.index.v1+json' },
  }).catch(() => undefined);
  return res?.status === 200 && res.headers.get('content-type') === 'application/vnd.oci.image.index.v1+json';
}
