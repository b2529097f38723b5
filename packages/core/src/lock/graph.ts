/**
 * The image references of a build graph, and the graph with them pinned to a lock's digests. Pure: no
 * file or network access (lock/locked.ts reads the file and asks the registry).
 *
 * Which references: each stage's FROM image (expanded with the global ARGs and the build args, as the
 * engine expands them), and the literal image references of `COPY --from=IMAGE` and
 * `RUN --mount=from=IMAGE`. Left alone: references already pinned by digest, `oci-layout://` paths,
 * and names of build contexts (`--build-context NAME=…`, which the engine resolves instead).
 */
import { expandWord } from '../ir/expand.js';
import type { BuildGraph, FromRef, Instruction, Mount, Stage } from '../ir/types.js';
import { type LockEntry, type LockFile, lockKey, pinnedReference } from './file.js';

export interface GraphReferenceOptions {
  /** `--build-arg` values: a `FROM ${BASE}` locks and pins the image the build arg names. */
  readonly buildArgs?: Readonly<Record<string, string>>;
  /** `--build-context` values by name: a FROM naming one is not an image to lock. */
  readonly buildContexts?: Readonly<Record<string, string>>;
}

/** One image reference of a graph: as the build would pull it, and its lock key. */
export interface GraphReference {
  /** Expanded, as written otherwise: `alpine:3.20`, `docker.io/library/node`. */
  readonly ref: string;
  /** {@link lockKey} of `ref`. */
  readonly key: string;
}

const LAYOUT_SCHEME = 'oci-layout://';

/**
 * Rewrites every lockable image reference of `graph` through `map` (given the expanded reference and
 * its key; returning undefined leaves the reference as it was). Throws for a malformed reference only
 * when `strict` (wharf lock); a build leaves those to the engine, which names them.
 */
function mapReferences(
  graph: BuildGraph,
  options: GraphReferenceOptions,
  strict: boolean,
  map: (reference: GraphReference) => string | undefined,
): BuildGraph {
  const global = new Map<string, string>();
  const lookup = (name: string) => global.get(name);
  for (const decl of graph.args) {
    const value =
      options.buildArgs?.[decl.name] ??
      (decl.default === undefined ? undefined : expandWord(decl.default, lookup));
    if (value === undefined) global.delete(decl.name);
    else global.set(decl.name, value);
  }
  const skip = new Set([...Object.keys(graph.namedContexts), ...Object.keys(options.buildContexts ?? {})]);
  const visit = (ref: string): string | undefined => {
    if (ref.startsWith(LAYOUT_SCHEME) || skip.has(ref)) return undefined;
    let key: string | undefined;
    try {
      key = lockKey(ref);
    } catch (error) {
      if (strict) throw error;
      return undefined;
    }
    return key === undefined ? undefined : map({ ref, key });
  };
  // `--from` references are expanded in the stage's scope by the engine: only literal ones are locked
  const from = (ref: FromRef | undefined): FromRef | undefined => {
    if (ref?.kind !== 'image' || ref.ref.includes('$')) return ref;
    const pinned = visit(ref.ref);
    return pinned === undefined ? ref : { kind: 'image', ref: pinned };
  };
  const mount = (m: Mount): Mount => {
    if (m.type !== 'cache' && m.type !== 'bind') return m;
    const pinned = from(m.from);
    return pinned === m.from || pinned === undefined ? m : { ...m, from: pinned };
  };
  const instruction = (i: Instruction): Instruction => {
    if (i.kind === 'copy') {
      const pinned = from(i.from);
      return pinned === i.from || pinned === undefined ? i : { ...i, from: pinned };
    }
    if (i.kind === 'run' && i.mounts?.length) return { ...i, mounts: i.mounts.map(mount) };
    return i;
  };
  const stage = (s: Stage): Stage => {
    let base = s.base;
    if (base.kind === 'image') {
      const pinned = visit(expandWord(base.ref, lookup));
      if (pinned !== undefined) base = { kind: 'image', ref: pinned };
    }
    return { ...s, base, instructions: s.instructions.map(instruction) };
  };
  return { ...graph, stages: graph.stages.map(stage) };
}

/**
 * The image references `wharf lock` locks, each once (by key), in graph order. Throws
 * OCI_INVALID_REFERENCE for a malformed one.
 *
 * @example
 * baseReferences(lowerDockerfile('FROM alpine:3.20\nFROM node:20 AS b')); // [{ ref: 'alpine:3.20', key: 'alpine:3.20' }, …]
 */
export function baseReferences(graph: BuildGraph, options: GraphReferenceOptions = {}): GraphReference[] {
  const found = new Map<string, GraphReference>();
  mapReferences(graph, options, true, (reference) => {
    if (!found.has(reference.key)) found.set(reference.key, reference);
    return undefined;
  });
  return [...found.values()];
}

export interface PinnedGraph {
  /** The graph with each locked reference replaced by `key@digest`. */
  readonly graph: BuildGraph;
  /** The references pinned, each once. */
  readonly pinned: readonly (GraphReference & { readonly entry: LockEntry; readonly pinned: string })[];
  /** The references the lock has no entry for, each once. */
  readonly missing: readonly GraphReference[];
}

/**
 * `graph` with every image reference the lock holds pinned to its locked digest (`alpine:3.20` →
 * `alpine:3.20@sha256:<index digest>`), so the engine pulls exactly that image and an emitted
 * Dockerfile says `FROM alpine:3.20@sha256:…`. Pure.
 *
 * @example
 * const { graph: pinned, missing } = pinGraph(graph, await readLock(dir) ?? EMPTY_LOCK);
 */
export function pinGraph(
  graph: BuildGraph,
  lock: LockFile,
  options: GraphReferenceOptions = {},
): PinnedGraph {
  const pinned = new Map<string, PinnedGraph['pinned'][number]>();
  const missing = new Map<string, GraphReference>();
  const result = mapReferences(graph, options, false, (reference) => {
    const entry = lock.images[reference.key];
    if (entry === undefined) {
      missing.set(reference.key, reference);
      return undefined;
    }
    const ref = pinnedReference(reference.key, entry.digest);
    if (!pinned.has(reference.key)) pinned.set(reference.key, { ...reference, entry, pinned: ref });
    return ref;
  });
  return { graph: result, pinned: [...pinned.values()], missing: [...missing.values()] };
}
