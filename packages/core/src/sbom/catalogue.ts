/**
 * The catalogue: which packages an image's final file tree holds, and which layer added each. The layers
 * are read in order, streamed through the tar reader, and only the package databases are kept (bounded);
 * whiteouts and later layers remove what they hide, as the overlay the container sees would.
 */

import { WharfError } from '../errors.js';
import type { Image } from '../image/types.js';
import type { Digest } from '../oci/index.js';
import { type SkippingInput, type TarEntry, TarReader } from '../tar/reader.js';
import {
  type Distro,
  type ParsedPackage,
  parseApkInstalled,
  parseDpkgStatus,
  parseNodePackageJson,
  parseOsRelease,
  parsePythonMetadata,
} from './parsers.js';
import { storedTarInput } from './stored-tar.js';

export interface CataloguedPackage extends ParsedPackage {
  /** The diffID of the layer that added this package (for dpkg/apk: the first layer whose database lists it). */
  readonly layer: Digest;
  /** Where it was found in the image, absolute. */
  readonly path: string;
}

export interface Catalogue {
  /** One per purl, sorted by type, name and version. */
  readonly packages: readonly CataloguedPackage[];
  readonly distro: Distro | undefined;
}

type Kind = 'dpkg' | 'apk' | 'npm' | 'python' | 'os-release';

const MiB = 1024 * 1024;
/** A database larger than this is refused (Debian's full archive is ~2 MiB of status per 1000 packages). */
const LIMITS: Readonly<Record<Kind, number>> = {
  dpkg: 64 * MiB,
  apk: 64 * MiB,
  npm: 4 * MiB,
  python: 4 * MiB,
  'os-release': 64 * 1024,
};
/** All the database text kept at once, across the tree. */
const TOTAL_LIMIT = 512 * MiB;

const NODE_PACKAGE = /^(?:.*\/)?node_modules\/(?:@[^/]+\/)?[^/.@][^/]*\/package\.json$/;
const PYTHON_METADATA = /^(?:.*\/)?[^/]+\.(?:dist-info\/METADATA|egg-info\/PKG-INFO|egg-info)$/;
const DPKG_STATUS_D = /^var\/lib\/dpkg\/status\.d\/[^/]+$/;

function kindOf(path: string): Kind | undefined {
  if (path === 'var/lib/dpkg/status') return 'dpkg';
  if (DPKG_STATUS_D.test(path)) return path.endsWith('.md5sums') ? undefined : 'dpkg';
  if (path === 'lib/apk/db/installed') return 'apk';
  if (path === 'etc/os-release' || path === 'usr/lib/os-release') return 'os-release';
  if (NODE_PACKAGE.test(path)) return 'npm';
  if (PYTHON_METADATA.test(path)) return 'python';
  return undefined;
}

interface Found {
  readonly kind: Kind;
  readonly layer: number;
  readonly text: string;
  /** dpkg/apk: `name version` → the layer index whose database first listed it (without a break since). */
  readonly introduced?: ReadonlyMap<string, number>;
}

/** A member name as a clean relative path; `undefined` for names that climb out (`..`) or are empty. */
function cleanPath(name: string): string | undefined {
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') return undefined;
    parts.push(part);
  }
  return parts.length === 0 ? undefined : parts.join('/');
}

/** The file tree's package databases, as the last layer leaves them. */
class Tree {
  readonly found = new Map<string, Found>();
  /** Every folder that holds or held a found file: only those need a prefix scan when hidden. */
  readonly #dirs = new Set<string>();
  #bytes = 0;

  /** Removes `path` (a whiteout) and everything below it that an earlier layer than `layer` added. */
  hide(path: string, layer: number): void {
    const exact = this.found.get(path);
    if (exact && exact.layer < layer) this.#remove(path, exact);
    this.hideBelow(path, layer);
  }

  /** Removes what an earlier layer than `layer` added below the folder `path`. */
  hideBelow(path: string, layer: number): void {
    if (path !== '' && !this.#dirs.has(path)) return;
    const prefix = path === '' ? '' : `${path}/`;
    for (const [key, value] of this.found) {
      if (key.startsWith(prefix) && value.layer < layer) this.#remove(key, value);
    }
  }

  /** Any entry at `path` replaces what was there, whatever the layer. */
  replace(path: string): void {
    const exact = this.found.get(path);
    if (exact) this.#remove(path, exact);
  }

  add(path: string, found: Found): void {
    this.replace(path);
    this.#bytes += found.text.length;
    if (this.#bytes > TOTAL_LIMIT) {
      throw new WharfError(
        'SBOM_TOO_LARGE',
        `the image's package databases exceed ${TOTAL_LIMIT / MiB} MiB`,
        {
          hint: 'an image this large is not catalogued; check what the layers hold',
        },
      );
    }
    this.found.set(path, found);
    for (let at = path.lastIndexOf('/'); at > 0; at = path.lastIndexOf('/', at - 1))
      this.#dirs.add(path.slice(0, at));
  }

  #remove(path: string, found: Found): void {
    this.#bytes -= found.text.length;
    this.found.delete(path);
  }
}

async function readText(
  reader: TarReader,
  entry: TarEntry,
  path: string,
  kind: Kind,
  diffId: Digest,
): Promise<string> {
  const limit = LIMITS[kind];
  if (entry.size > limit) {
    throw new WharfError(
      'SBOM_FILE_TOO_LARGE',
      `/${path} in layer ${diffId} is ${entry.size} bytes; package databases are read up to ${limit} bytes`,
      { hint: 'the image holds an oversized package database; rebuild it from a base you trust' },
    );
  }
  const chunks: Buffer[] = [];
  // copied: a stored tar is read into one reused buffer (stored-tar.ts), so a piece is only valid
  // until the next read
  for (let chunk = await reader.read(); chunk !== undefined; chunk = await reader.read())
    chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

function packageKey(pkg: ParsedPackage): string {
  return `${pkg.name} ${pkg.version}`;
}

/** For a database rewritten in `layer`: each package keeps the layer that first listed it. */
function introducedBy(
  kind: Kind,
  text: string,
  layer: number,
  previous: Found | undefined,
): Map<string, number> {
  const parsed = kind === 'dpkg' ? parseDpkgStatus(text, undefined) : parseApkInstalled(text, undefined);
  const introduced = new Map<string, number>();
  for (const pkg of parsed) {
    const key = packageKey(pkg);
    introduced.set(key, previous?.introduced?.get(key) ?? layer);
  }
  return introduced;
}

async function readLayer(
  tree: Tree,
  tar: AsyncIterable<Uint8Array> | SkippingInput,
  layer: number,
  diffId: Digest,
): Promise<void> {
  const reader = new TarReader(tar);
  for await (const entry of reader) {
    const path = cleanPath(entry.name);
    if (path === undefined) continue;
    const slash = path.lastIndexOf('/');
    const dir = slash === -1 ? '' : path.slice(0, slash);
    const base = path.slice(slash + 1);
    if (base === '.wh..wh..opq') {
      tree.hideBelow(dir, layer);
      continue;
    }
    if (base.startsWith('.wh.')) {
      tree.hide(dir === '' ? base.slice(4) : `${dir}/${base.slice(4)}`, layer);
      continue;
    }
    if (entry.type === 'directory') {
      tree.replace(path);
      continue;
    }
    // a file, link or device here hides a folder of earlier layers at the same path
    tree.hideBelow(path, layer);
    const kind = kindOf(path);
    if (kind === undefined) continue;
    let text: string | undefined;
    if (entry.type === 'file' || entry.type === 'contiguous-file') {
      text = await readText(reader, entry, path, kind, diffId);
    } else if (entry.type === 'link') {
      const target = cleanPath(entry.linkname);
      text = target === undefined ? undefined : tree.found.get(target)?.text;
    }
    if (text === undefined) {
      tree.replace(path);
      continue;
    }
    const previous = tree.found.get(path);
    const introduced =
      kind === 'dpkg' || kind === 'apk' ? introducedBy(kind, text, layer, previous) : undefined;
    tree.add(path, { kind, layer, text, ...(introduced ? { introduced } : {}) });
  }
}

function packagesOf(found: Found, distro: Distro | undefined): ParsedPackage[] {
  switch (found.kind) {
    case 'dpkg':
      return parseDpkgStatus(found.text, distro);
    case 'apk':
      return parseApkInstalled(found.text, distro);
    case 'npm': {
      const pkg = parseNodePackageJson(found.text);
      return pkg ? [pkg] : [];
    }
    case 'python': {
      const pkg = parsePythonMetadata(found.text);
      return pkg ? [pkg] : [];
    }
    case 'os-release':
      return [];
  }
}

function compare(a: CataloguedPackage, b: CataloguedPackage): number {
  for (const [x, y] of [
    [a.type, b.type],
    [a.name, b.name],
    [a.version, b.version],
    [a.path, b.path],
  ] as const) {
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** Reads `image`'s layers, base first, and lists the packages its final file tree holds. */
export async function catalogueImage(image: Image): Promise<Catalogue> {
  const layers = await image.layers();
  const diffIds: Digest[] = [];
  const tree = new Tree();
  for (const [index, layer] of layers.entries()) {
    const diffId = await layer.diffId();
    diffIds.push(diffId);
    const tar = await layer.uncompressed();
    // the store's own tar file: headers walked, other members skipped, no gunzip and no second hash
    const file = await storedTarInput(tar, diffId);
    if (file) tar.destroy();
    try {
      await readLayer(tree, file ?? tar, index, diffId);
    } catch (error) {
      if (error instanceof WharfError) throw error;
      throw new WharfError(
        'SBOM_LAYER_UNREADABLE',
        `layer ${diffId} cannot be read: ${(error as Error).message}`,
        {
          hint: 'the image is damaged or not what its manifest says; pull or build it again',
          cause: error,
        },
      );
    } finally {
      tar.destroy();
      await file?.close();
    }
  }
  const osRelease = tree.found.get('etc/os-release') ?? tree.found.get('usr/lib/os-release');
  const distro = osRelease ? parseOsRelease(osRelease.text) : undefined;
  const byPurl = new Map<string, CataloguedPackage>();
  for (const [path, found] of tree.found) {
    for (const pkg of packagesOf(found, distro)) {
      const layer = found.introduced?.get(packageKey(pkg)) ?? found.layer;
      const entry: CataloguedPackage = { ...pkg, layer: diffIds[layer] as Digest, path: `/${path}` };
      const seen = byPurl.get(pkg.purl);
      if (!seen || compare(entry, seen) < 0) byPurl.set(pkg.purl, entry);
    }
  }
  return { packages: [...byPurl.values()].sort(compare), distro };
}
