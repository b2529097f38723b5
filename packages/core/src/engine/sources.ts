/**
 * What COPY --from and RUN --mount read: another stage's or an image's root filesystem (a snapshot
 * of its layers, mounted on the host), a named context, or the main context — and a content identity
 * for each, so step cache keys cover what a step reads without hashing whole root filesystems.
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import type { FileDigests } from '../cache/file-digests.js';
import { WharfError } from '../errors.js';
import type { Image, Layer } from '../image/types.js';
import type { FromRef } from '../ir/types.js';
import { openContextSource, openDirSource, type SourceTree } from '../layer/source.js';
import type { Snapshotter } from '../runtime/snapshotter.js';
import type { MountedTree } from './run-step.js';

export interface SourceResolver {
  /** The image of an earlier stage (awaits it). */
  stageImage(name: string): Promise<Image>;
  /** An image by reference (pulled, or a local layout). */
  image(ref: string): Promise<Image>;
  /** A named context's folder and ignore patterns. */
  namedContext(name: string): { dir: string; ignore?: readonly string[] } | undefined;
  snapshotter(): Promise<Snapshotter>;
}

/** A stage's or an image's filesystem, mounted read-only-in-spirit for reading; release it after use. */
async function mountImage(
  image: Image,
  resolver: SourceResolver,
  description: string,
): Promise<MountedTree & { tree: SourceTree }> {
  const layers: readonly Layer[] = await image.layers();
  const snapshot = await (await resolver.snapshotter()).prepare(layers);
  return {
    dir: snapshot.rootfs,
    identity: await image.digest(),
    tree: openDirSource(snapshot.rootfs, { description }),
    release: () => snapshot.release(),
  };
}

/** Opens the tree a `from` names. */
export async function openFrom(from: FromRef, resolver: SourceResolver, expand: (word: string) => string) {
  switch (from.kind) {
    case 'stage':
      return mountImage(await resolver.stageImage(from.stage), resolver, `stage ${from.stage}`);
    case 'image': {
      const ref = expand(from.ref);
      return mountImage(await resolver.image(ref), resolver, `image ${ref}`);
    }
    case 'context': {
      const spec = resolver.namedContext(from.name);
      if (!spec) {
        throw new WharfError('ENGINE_UNKNOWN_CONTEXT', `no build context named "${from.name}"`, {
          hint: `declare it: context('../dir', { name: '${from.name}' })`,
        });
      }
      const tree = await openContextSource(spec.dir, spec.ignore ? { ignore: spec.ignore } : {});
      return { dir: resolve(spec.dir), identity: `context:${from.name}`, tree, release: async () => {} };
    }
  }
}

/**
 * A digest of everything under `relPath` in a source tree (paths, types, modes, link targets, file
 * contents through the stat cache), for the cache key of a RUN that binds it.
 */
export async function treeIdentity(tree: SourceTree, relPath: string, digests: FileDigests): Promise<string> {
  const hash = createHash('sha256');
  const visit = async (path: string): Promise<void> => {
    const stat = await tree.lstat(path);
    if (!stat) {
      hash.update(`${path}\0missing\n`);
      return;
    }
    hash.update(`${path}\0${stat.type}\0${stat.mode.toString(8)}\0${stat.linkTarget ?? ''}\0`);
    if (stat.type === 'file') hash.update(await digests.digest(stat.absPath));
    hash.update('\n');
    if (stat.type === 'dir')
      for (const name of await tree.readdir(path)) await visit(path === '' ? name : `${path}/${name}`);
  };
  await visit(relPath.replace(/^\/+|\/+$/g, ''));
  return `sha256:${hash.digest('hex')}`;
}
