/**
 * What COPY --from and RUN --mount read: another stage's or an image's root filesystem (a snapshot
 * of its layers, mounted on the host), a named context, or the main context — and a content identity
 * for each, so step cache keys cover what a step reads without hashing whole root filesystems.
 */
import { createHash } from 'node:crypto';
import { realpath } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import type { FileDigests } from '../cache/file-digests.js';
import { WharfError } from '../errors.js';
import type { Image, Layer } from '../image/types.js';
import type { FromRef } from '../ir/types.js';
import { openContextSource, openDirSource, type SourceTree } from '../layer/source.js';
import { type Digest, parseDigest, parseReference } from '../oci/index.js';
import type { Snapshotter } from '../runtime/snapshotter.js';
import type { MountedTree } from './run-step.js';

export interface SourceResolver {
  /** The image of an earlier stage (awaits it). */
  stageImage(name: string): Promise<Image>;
  /** An image by reference (pulled, or a local layout). */
  image(ref: string): Promise<Image>;
  /** A named context's folder and ignore patterns. */
  namedContext(name: string): { dir: string; ignore?: readonly string[] } | undefined;
  /**
   * The folder a `--build-context NAME=DIR` gives for `ref` (COPY --from=NAME), if any; then
   * `namedContext(ref)` answers for it too.
   */
  buildContextDir?(ref: string): string | undefined;
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

/** `from`, as a named context when it names a `--build-context NAME=DIR` (COPY --from=NAME). */
export function withBuildContext(
  from: FromRef,
  resolver: SourceResolver,
  expand: (word: string) => string,
): FromRef {
  if (from.kind !== 'image') return from;
  const ref = expand(from.ref);
  return resolver.buildContextDir?.(ref) === undefined ? from : { kind: 'context', name: ref };
}

/** Opens the tree a `from` names. */
export async function openFrom(from: FromRef, resolver: SourceResolver, expand: (word: string) => string) {
  switch (from.kind) {
    case 'stage':
      return mountImage(await resolver.stageImage(from.stage), resolver, `stage ${from.stage}`);
    case 'image': {
      const ref = expand(from.ref);
      if (resolver.buildContextDir?.(ref) !== undefined) {
        return openFrom({ kind: 'context', name: ref }, resolver, expand);
      }
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
      return {
        dir: resolve(spec.dir),
        identity: `context:${from.name}`,
        tree,
        // a folder has no digest: what a RUN binds from it is keyed by the files themselves
        contentIdentity: (path: string, digests: FileDigests) => treeIdentity(tree, path, digests),
        release: async () => {},
      };
    }
  }
}

/**
 * `openFrom` for a RUN mount source: a context folder has no digest, so what a RUN binds from it is
 * keyed by its files (`identityOf`), never by its name.
 */
export async function openMountSource(from: FromRef, resolver: SourceResolver, digests: FileDigests) {
  const opened = await openFrom(from, resolver, (word) => word);
  if (!('contentIdentity' in opened)) return opened;
  const { contentIdentity } = opened;
  return { ...opened, identityOf: (path: string) => contentIdentity(path, digests) };
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

export const LAYOUT_SCHEME = 'oci-layout://';

/** What to read from a layout: an entry by ref name, by digest, or the only one. */
export type LayoutPick = { readonly ref?: string; readonly digest?: Digest };

/** `PATH[:TAG|@DIGEST]` (after `oci-layout://`) → the path and what to pick, as buildx reads it. */
export function parseLayoutSpec(spec: string): { path: string; pick: LayoutPick } {
  const at = spec.search(/[:@][^/]*$/);
  const path = at < 0 ? spec : spec.slice(0, at);
  const selector = at < 0 ? undefined : spec.slice(at);
  const pick = selector?.startsWith('@')
    ? { digest: parseDigest(selector.slice(1)) }
    : selector
      ? { ref: selector.slice(1) }
      : {};
  return { path, pick };
}

/**
 * A `--build-context` (buildx): `NAME=oci-layout://PATH[:TAG|@DIGEST]` replaces `FROM NAME` and
 * `COPY --from=NAME` with an image from a local layout; `NAME=docker-image://REF` with another image;
 * `NAME=DIR` gives `COPY --from=NAME` a local folder. Paths are absolute (resolved by the caller).
 */
export type BuildContext =
  | { readonly kind: 'layout'; readonly dir: string; readonly pick: LayoutPick }
  | { readonly kind: 'image'; readonly ref: string }
  | { readonly kind: 'dir'; readonly dir: string };

/** Parses `--build-context` values (`name → source`); paths relative to `cwd`. */
export function parseBuildContexts(
  values: Readonly<Record<string, string>>,
  cwd: string = process.cwd(),
): ReadonlyMap<string, BuildContext> {
  const out = new Map<string, BuildContext>();
  for (const [name, value] of Object.entries(values)) {
    if (!name || value === '') {
      throw new WharfError('ENGINE_BAD_BUILD_CONTEXT', `invalid build context "${name}=${value}"`, {
        hint: 'use --build-context NAME=oci-layout://PATH[:TAG|@DIGEST], NAME=docker-image://REF or NAME=DIR',
      });
    }
    if (value.startsWith(LAYOUT_SCHEME)) {
      const { path, pick } = parseLayoutSpec(value.slice(LAYOUT_SCHEME.length));
      out.set(name, { kind: 'layout', dir: resolve(cwd, path), pick });
    } else if (value.startsWith('docker-image://')) {
      out.set(name, { kind: 'image', ref: value.slice('docker-image://'.length) });
    } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
      throw new WharfError('ENGINE_BAD_BUILD_CONTEXT', `build context "${name}": ${value} is not supported`, {
        hint: 'wharf takes oci-layout://PATH, docker-image://REF or a local folder',
      });
    } else out.set(name, { kind: 'dir', dir: resolve(cwd, value) });
  }
  return out;
}

function normalisedRef(ref: string): string | undefined {
  try {
    return parseReference(ref).toString();
  } catch {
    return undefined;
  }
}

/** The build context `ref` names: by the name as written, or as the same normalised image reference. */
export function findBuildContext(
  contexts: ReadonlyMap<string, BuildContext>,
  ref: string,
): BuildContext | undefined {
  const exact = contexts.get(ref);
  if (exact || contexts.size === 0) return exact;
  const wanted = normalisedRef(ref);
  if (wanted === undefined) return undefined;
  for (const [name, context] of contexts) if (normalisedRef(name) === wanted) return context;
  return undefined;
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!isAbsolute(rel) && rel !== '..' && !rel.startsWith(`..${sep}`));
}

/**
 * The folder of an `oci-layout://PATH` that a build definition (Dockerfile, build.ts) names itself:
 * only a relative path whose real location (symlinks resolved) is inside one of `roots` (the
 * definition's folder, the build context). Anything else — an absolute path, `..` out of them, a
 * symlink out of them — is `ENGINE_LAYOUT_OUTSIDE_CONTEXT`: local layouts elsewhere come only from the
 * command line, as buildx has it (`--build-context NAME=oci-layout://PATH`).
 */
export async function definitionLayoutDir(
  ref: string,
  path: string,
  roots: readonly string[],
): Promise<string> {
  const refuse = (why: string) =>
    new WharfError('ENGINE_LAYOUT_OUTSIDE_CONTEXT', `${ref}: ${why}`, {
      hint: `a build definition reads local layouts only inside its folder or context; pass this one on the command line: --build-context base=${ref} and FROM base (build(): buildContexts: { base: '${ref}' })`,
    });
  if (isAbsolute(path)) throw refuse('an absolute path');
  const candidate = resolve(roots[0] as string, path);
  let real: string;
  try {
    real = await realpath(candidate);
  } catch (cause) {
    throw new WharfError('ENGINE_LAYOUT_NOT_FOUND', `${ref}: ${candidate} does not exist`, {
      hint: 'write the layout there first (-o type=oci,dest=DIR), or fix the path (relative to the build definition)',
      cause,
    });
  }
  for (const root of roots) {
    const realRoot = await realpath(root).catch(() => resolve(root));
    if (inside(realRoot, real)) return real;
  }
  throw refuse(`${candidate} is outside the build definition's folder and context`);
}
