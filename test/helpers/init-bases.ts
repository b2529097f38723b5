// Look-alike bases for the `wharf init` Python and pnpm-workspace fixtures, served by a loopback registry
// of their own (given to `wharf build --registry-mirror`), so the shared mirror's node:20-alpine stays as
// every other test knows it:
//   python:3.12-slim  the busybox rootfs (root and nobody only, like Debian's) + Debian's python3, pip and
//                     venv unpacked from their .debs (dpkg-deb -x: files only, no maintainer scripts);
//                     `python` and `pip` in /usr/local/bin as the official image has them. Debian's python
//                     is 3.11: the tag names what init writes, not what is inside (as golang:1.22-alpine
//                     holds Debian's Go). Tests have no PyPI, so /etc/pip.conf points pip at a wheelhouse
//                     in the image (wheels made from Debian's python3-flask and friends), the way a
//                     company base points pip at its own index.
//   node:20-alpine    the node look-alike of base-images.ts + corepack (which Node 20 images carry) with
//                     the pnpm the fixture's packageManager names already in root's corepack cache, as if
//                     corepack had downloaded it.
// The inputs (Debian packages, wheels, pnpm) are fetched at install time by scripts/test-env-offline.sh.
// The registry's storage lives in the state dir under a key of everything the images are made of, so a
// warm run starts the registry and finds both images there.
import { createHash } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  addNode,
  BUSYBOX,
  buildBusyboxRootfs,
  dockerImport,
  HOST_NODE,
  NODE,
  nodeImageChanges,
  PATH_ENV,
  tarRootfs,
} from './base-images.js';
import { docker } from './docker.js';
import { run } from './exec.js';
import { stateDir, tempDir } from './paths.js';
import { type Registry, startRegistry } from './registry.js';

const STALE_MS = 24 * 60 * 60 * 1000;
/** Where pip finds the wheels inside the look-alike python image. */
const WHEELHOUSE = '/usr/share/python-wheelhouse';

function offlineDir(): string {
  return join(stateDir(), 'offline');
}

/** What is missing from the install-time fetch, or undefined when all of it is there. */
export function missingOfflineInputs(): string | undefined {
  const offline = offlineDir();
  const parts = [
    ['debs/python/.complete', "Debian's python3 packages"],
    ['wheelhouse/.complete', 'the wheelhouse'],
    ['corepack/v1/pnpm', "pnpm in corepack's cache"],
  ] as const;
  const missing = parts.filter(([path]) => !existsSync(join(offline, path))).map(([, what]) => what);
  return missing.length ? `${missing.join(', ')} (run scripts/test-env.sh while online)` : undefined;
}

function files(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => !f.startsWith('.'))
    .sort();
}

/** Everything the images are made of: this file, the .deb and wheel names, pnpm, the host's node. */
async function inputsKey(): Promise<string> {
  const offline = offlineDir();
  const nodeVersion = (await run(HOST_NODE, ['--version'])).stdout.trim();
  return createHash('sha256')
    .update(readFileSync(fileURLToPath(import.meta.url)))
    .update(readFileSync(fileURLToPath(new URL('./base-images.ts', import.meta.url))))
    .update(JSON.stringify([files(join(offline, 'debs/python')), files(join(offline, 'wheelhouse'))]))
    .update(JSON.stringify(files(join(offline, 'corepack/v1/pnpm'))))
    .update(nodeVersion)
    .digest('hex')
    .slice(0, 16);
}

/** `docker import`s the tar as `ref` (in the init registry), pushes it, and drops the local tag. */
async function importAndPush(tarFile: string, ref: string, changes: readonly string[]): Promise<void> {
  await dockerImport(tarFile, ref, changes);
  try {
    await docker(['push', ref]);
  } finally {
    await docker(['rmi', ref]).catch(() => undefined);
  }
}

async function makePython(work: string, ref: string): Promise<void> {
  const offline = offlineDir();
  const rootfs = join(work, 'python');
  await buildBusyboxRootfs(rootfs, BUSYBOX.user);
  // Debian's slim images have system users only: no `app` for nonRootUser() to collide with.
  rmSync(join(rootfs, 'home'), { recursive: true, force: true });
  writeFileSync(
    join(rootfs, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n',
  );
  writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  for (const deb of files(join(offline, 'debs/python'))) {
    await run('dpkg-deb', ['-x', join(offline, 'debs/python', deb), rootfs]);
  }
  // PEP 668's marker makes Debian's pip refuse system installs; the official image has none.
  for (const lib of readdirSync(join(rootfs, 'usr/lib')).filter((d) => /^python3\.\d+$/.test(d))) {
    rmSync(join(rootfs, 'usr/lib', lib, 'EXTERNALLY-MANAGED'), { force: true });
  }
  mkdirSync(join(rootfs, 'usr/local/bin'), { recursive: true });
  symlinkSync('/usr/bin/python3', join(rootfs, 'usr/local/bin/python'));
  symlinkSync('/usr/bin/pip3', join(rootfs, 'usr/local/bin/pip'));
  cpSync(join(offline, 'wheelhouse'), join(rootfs, WHEELHOUSE.slice(1)), {
    recursive: true,
    filter: (source) => !source.endsWith('/.complete'),
  });
  writeFileSync(
    join(rootfs, 'etc/pip.conf'),
    `# The tests' stand-in for PyPI: wheels in the image (test/helpers/init-bases.ts).\n[global]\nno-index = true\nfind-links = ${WHEELHOUSE}\ndisable-pip-version-check = true\n`,
  );
  const version = (
    await run('dpkg-deb', ['-f', join(offline, 'debs/python', pythonDeb(offline)), 'Version'])
  ).stdout
    .trim()
    .replace(/-.*$/, '');
  const changes = [
    `ENV PATH=${PATH_ENV}`,
    'ENV LANG=C.UTF-8',
    `ENV PYTHON_VERSION=${version}`,
    'CMD ["python3"]',
  ];
  await importAndPush(await tarRootfs(rootfs), ref, changes);
}

/** The `python3.X` interpreter's .deb (for the version the image reports). */
function pythonDeb(offline: string): string {
  const deb = files(join(offline, 'debs/python')).find((f) => /^python3\.\d+_/.test(f));
  if (!deb) throw new Error(`no python3.X .deb in ${join(offline, 'debs/python')}`);
  return deb;
}

async function makeNodeWithPnpm(work: string, ref: string): Promise<void> {
  const rootfs = join(work, 'node');
  await buildBusyboxRootfs(rootfs, NODE.user);
  await addNode(rootfs);
  // corepack ships beside npm (<prefix>/lib/node_modules/corepack), its bin linked as node images do.
  const corepack = join(dirname(dirname(realpathSync(HOST_NODE))), 'lib/node_modules/corepack');
  cpSync(corepack, join(rootfs, 'usr/local/lib/node_modules/corepack'), {
    recursive: true,
    verbatimSymlinks: true,
  });
  symlinkSync('../lib/node_modules/corepack/dist/corepack.js', join(rootfs, 'usr/local/bin/corepack'));
  // corepack's default cache for root ($HOME/.cache/node/corepack): where `corepack enable` + `pnpm
  // install` (run as root in the deps stage) look before downloading.
  const cache = join(rootfs, 'root/.cache/node/corepack');
  cpSync(join(offlineDir(), 'corepack'), cache, { recursive: true, verbatimSymlinks: true });
  chmodSync(join(rootfs, 'root'), 0o700);
  const nodeVersion = (await run(HOST_NODE, ['--version'])).stdout.trim().replace(/^v/, '');
  await importAndPush(await tarRootfs(rootfs, NODE.user), ref, nodeImageChanges(nodeVersion));
}

export interface InitBases {
  /** Give this to `wharf build --registry-mirror`. */
  readonly registry: Registry;
  /** Whether the images were made this time (false on a warm run). */
  readonly made: boolean;
}

/**
 * Starts the init registry on its persistent storage and makes the two images if this key has not
 * made them yet. Stop the registry when done; its storage stays for the next run.
 */
export async function startInitBases(): Promise<InitBases> {
  const missing = missingOfflineInputs();
  if (missing) throw new Error(`the wharf init look-alike bases need ${missing}`);
  const root = join(stateDir(), 'init-bases');
  const key = await inputsKey();
  // Other keys' storage goes once unused for a day (another checkout may be using it right now).
  for (const old of existsSync(root) ? readdirSync(root) : []) {
    if (old !== key && statSync(join(root, old)).mtimeMs < Date.now() - STALE_MS) {
      rmSync(join(root, old), { recursive: true, force: true });
    }
  }
  const storageDir = join(root, key, 'storage');
  mkdirSync(storageDir, { recursive: true });
  const now = new Date();
  utimesSync(join(root, key), now, now);
  const registry = await startRegistry({ storageDir });
  const done = join(root, key, 'complete');
  if (existsSync(done)) return { registry, made: false };
  const work = tempDir('wharf-init-bases-');
  try {
    await makePython(work, `${registry.host}/library/python:3.12-slim`);
    await makeNodeWithPnpm(work, `${registry.host}/library/node:20-alpine`);
  } catch (error) {
    await registry.stop();
    throw error;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  writeFileSync(done, '');
  return { registry, made: true };
}
