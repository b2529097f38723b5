// Flattens an image into the file tree a container would see, so differential tests can compare
// BuildKit's image with wharf's: every path with its type, mode, owner, link target and content digest.
// Reads `docker save` / docker-archive tars (manifest.json + layer tars, gzipped or not), applying
// layers in order with whiteouts (`.wh.name`) and opaque directories (`.wh..wh..opq`).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';

export interface TreeEntry {
  type: 'file' | 'dir' | 'symlink' | 'hardlink' | 'other';
  /** Permission bits and setuid/setgid/sticky, in octal text (`755`). */
  mode: string;
  uid: number;
  gid: number;
  /** Symlink or hardlink target. */
  link?: string;
  /** sha256 of the content, for files. */
  sha256?: string;
  size?: number;
}

export type Tree = Map<string, TreeEntry>;

export interface SavedImage {
  config: Record<string, unknown>;
  tree: Tree;
}

/** Reads a `docker save` or docker-archive tar: the config and the flattened tree of its first image. */
export async function readSavedImage(file: string): Promise<SavedImage> {
  const members = new Map<string, Buffer>();
  for await (const { name, data } of tarMembers(createReadStream(file))) members.set(name, data);
  const manifest = JSON.parse(text(members, 'manifest.json')) as { Config: string; Layers: string[] }[];
  const first = manifest[0];
  if (!first) throw new Error(`${file}: manifest.json lists no image`);
  const config = JSON.parse(text(members, first.Config)) as Record<string, unknown>;
  const tree: Tree = new Map();
  for (const layer of first.Layers) {
    const bytes = members.get(layer);
    if (!bytes) throw new Error(`${file}: missing layer ${layer}`);
    await applyLayer(tree, bytes);
  }
  return { config, tree };
}

function text(members: Map<string, Buffer>, name: string): string {
  const data = members.get(name);
  if (!data) throw new Error(`archive has no ${name}`);
  return data.toString('utf8');
}

async function* tarMembers(
  input: Readable,
): AsyncGenerator<{ name: string; data: Buffer; header: TarHeader }> {
  const ex = extract();
  input.pipe(ex);
  for await (const entry of ex) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    yield {
      name: entry.header.name.replace(/^\.\//, ''),
      data: Buffer.concat(chunks),
      header: entry.header as TarHeader,
    };
  }
}

interface TarHeader {
  name: string;
  type: string;
  mode?: number;
  uid?: number;
  gid?: number;
  linkname?: string | null;
  size?: number;
}

const isGzip = (bytes: Buffer) => bytes[0] === 0x1f && bytes[1] === 0x8b;

async function applyLayer(tree: Tree, bytes: Buffer): Promise<void> {
  const raw = Readable.from([bytes]);
  const input = isGzip(bytes) ? raw.pipe(createGunzip()) : raw;
  for await (const { name, data, header } of tarMembers(input)) {
    const path = posix.normalize(`/${name}`).replace(/\/$/, '') || '/';
    const dir = posix.dirname(path);
    const base = posix.basename(path);
    if (base === '.wh..wh..opq') {
      for (const key of [...tree.keys()]) if (key.startsWith(`${dir === '/' ? '' : dir}/`)) tree.delete(key);
      continue;
    }
    if (base.startsWith('.wh.')) {
      const gone = posix.join(dir, base.slice(4));
      for (const key of [...tree.keys()]) if (key === gone || key.startsWith(`${gone}/`)) tree.delete(key);
      continue;
    }
    const entry: TreeEntry = {
      type: kindOf(header.type),
      mode: ((header.mode ?? 0) & 0o7777).toString(8),
      uid: header.uid ?? 0,
      gid: header.gid ?? 0,
    };
    if (header.linkname)
      entry.link = header.type === 'link' ? posix.normalize(`/${header.linkname}`) : header.linkname;
    if (entry.type === 'file') {
      entry.sha256 = createHash('sha256').update(data).digest('hex');
      entry.size = data.length;
    }
    if (entry.type !== 'dir')
      for (const key of [...tree.keys()]) if (key.startsWith(`${path}/`)) tree.delete(key);
    tree.set(path, entry);
  }
}

function kindOf(type: string): TreeEntry['type'] {
  if (type === 'file' || type === 'contiguous-file') return 'file';
  if (type === 'directory') return 'dir';
  if (type === 'symlink') return 'symlink';
  if (type === 'link') return 'hardlink';
  return 'other';
}

/** The tree as sorted `path type mode uid:gid [-> link] [sha256]` lines: easy to diff in test output. */
export function treeLines(tree: Tree, options: { under?: string; ignore?: RegExp } = {}): string[] {
  return [...tree.entries()]
    .filter(([path]) =>
      options.under ? path === options.under || path.startsWith(`${options.under}/`) : true,
    )
    .filter(([path]) => !options.ignore?.test(path))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([path, e]) =>
      [
        path,
        e.type,
        e.mode,
        `${e.uid}:${e.gid}`,
        e.link ? `-> ${e.link}` : '',
        e.sha256 ? e.sha256.slice(0, 16) : '',
      ]
        .filter(Boolean)
        .join(' '),
    );
}
