// A look-alike `golang:1.22-alpine` for the `wharf init` Go fixture: the busybox look-alike plus Debian's Go
// toolchain (golang-go, scripts/test-env.sh) at /usr/local/go, with GOPATH=/go as the official image has it.
// A rootfs tar `docker import`ed (not built by wharf) and pushed to the mirror once; a marker in the state dir records the inputs
// (this file and the Go version), so a warm run only checks the mirror has the tag.
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  cpSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUSYBOX, buildBusyboxRootfs } from './base-images.js';
import { docker } from './docker.js';
import { run } from './exec.js';
import { stateDir, tempDir } from './paths.js';
import { which } from './tools.js';

export const GOLANG_REF = 'golang:1.22-alpine';
const PATH_ENV = '/usr/local/go/bin:/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Copies the host's GOROOT without what building a module does not read (tests, testdata, cmd sources). */
function copyGoroot(goroot: string, dest: string): void {
  mkdirSync(join(dest, 'pkg'), { recursive: true });
  cpSync(join(goroot, 'VERSION'), join(dest, 'VERSION'));
  cpSync(join(goroot, 'bin'), join(dest, 'bin'), { recursive: true, dereference: true });
  for (const dir of ['tool', 'include']) {
    cpSync(join(goroot, 'pkg', dir), join(dest, 'pkg', dir), { recursive: true, dereference: true });
  }
  cpSync(join(goroot, 'src'), join(dest, 'src'), {
    recursive: true,
    dereference: true,
    filter: (source) => {
      const name = source.split('/').pop() ?? '';
      const rel = source.slice(join(goroot, 'src').length);
      return name !== 'testdata' && !name.endsWith('_test.go') && rel !== '/cmd';
    },
  });
}

/** Debian links `go` against libc: the libraries (and loader) each binary needs, copied into `rootfs`. */
async function addSharedLibraries(rootfs: string, binaries: readonly string[]): Promise<void> {
  for (const binary of binaries) {
    // a static binary: ldd says "not a dynamic executable" and fails
    const listed = await run('ldd', [binary]).then(
      (r) => r.stdout,
      () => '',
    );
    for (const m of listed.matchAll(/(\/\S+) \(0x/g)) {
      const lib = m[1] as string;
      mkdirSync(join(rootfs, dirname(lib)), { recursive: true });
      copyFileSync(lib, join(rootfs, lib));
    }
  }
}

/** Makes sure the mirror serves the look-alike golang image; returns its reference there. */
export async function ensureGoImage(mirror: { host: string; url: string }): Promise<string> {
  const go = which('go');
  if (!go) throw new Error('the Go toolchain is missing: apt-get install golang-go (scripts/test-env.sh)');
  const goroot = dirname(dirname(realpathSync(go)));
  const version = (await run(go, ['version'])).stdout.trim();
  const key = createHash('sha256')
    .update(readFileSync(fileURLToPath(import.meta.url)))
    .update(version)
    .digest('hex');
  const marker = join(stateDir(), 'base-images', 'golang-1.22-alpine.key');
  const mirrorRef = `${mirror.host}/library/${GOLANG_REF}`;
  const [name, tag] = GOLANG_REF.split(':') as [string, string];
  const present = await fetch(`${mirror.url}/v2/library/${name}/manifests/${tag}`, {
    method: 'HEAD',
    headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' },
  }).then(
    (r) => r.status === 200,
    () => false,
  );
  const recorded = (() => {
    try {
      return readFileSync(marker, 'utf8');
    } catch {
      return '';
    }
  })();
  if (present && recorded === key) return mirrorRef;

  const work = tempDir('wharf-go-image-');
  try {
    const rootfs = join(work, 'rootfs');
    await buildBusyboxRootfs(rootfs, BUSYBOX.user);
    copyGoroot(goroot, join(rootfs, 'usr/local/go'));
    await addSharedLibraries(rootfs, [
      ...readdirSync(join(goroot, 'bin')).map((f) => join(goroot, 'bin', f)),
      ...readdirSync(join(goroot, 'pkg/tool/linux_amd64')).map((f) =>
        join(goroot, 'pkg/tool/linux_amd64', f),
      ),
    ]);
    mkdirSync(join(rootfs, 'go/bin'), { recursive: true });
    mkdirSync(join(rootfs, 'go/src'), { recursive: true });
    const tarFile = join(work, 'rootfs.tar');
    const flags = ['--numeric-owner', '--owner=0', '--group=0', '--sort=name', '--mtime=@0'];
    await run('tar', [...flags, '-C', rootfs, '-cf', tarFile, '.']);
    const changes = [`ENV PATH=${PATH_ENV}`, 'ENV GOPATH=/go', 'WORKDIR /go', 'CMD ["sh"]'];
    await docker(['import', ...changes.flatMap((c) => ['--change', c]), tarFile, mirrorRef]);
    await docker(['push', mirrorRef]);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  mkdirSync(dirname(marker), { recursive: true });
  writeFileSync(marker, key);
  return mirrorRef;
}
