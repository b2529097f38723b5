/**
 * Locking and locked builds: {@link lockBases} asks the registry what each base tag names now and makes
 * the new lock (`wharf lock`); {@link lockedGraph} is the one call a build makes: it reads `wharf.lock`
 * beside the definition and pins the graph's bases to it, and with `locked` (`--locked`) fails when a
 * base is missing from the lock or its tag has moved since.
 */
import type { EventSink } from '../events.js';
import type { BuildGraph } from '../ir/types.js';
import {
  type Descriptor,
  type Digest,
  formatPlatform,
  type ImageIndex,
  isIndex,
  isManifest,
} from '../oci/index.js';
import { fetchRootManifest, type RegistryOptions } from '../registry/index.js';
import {
  EMPTY_LOCK,
  LOCK_FILE,
  type LockEntry,
  LockError,
  type LockFile,
  lockKey,
  readLock,
} from './file.js';
import { baseReferences, type GraphReferenceOptions, pinGraph } from './graph.js';

/**
 * What `ref` names in its registry now, as a lock entry: the root digest (an index's, for a
 * multi-platform image) and, for an index, each platform's manifest digest. Attestation manifests
 * (`unknown/unknown`) are not platforms and are left out.
 *
 * @example
 * const entry = await resolveLockEntry('alpine:3.20', { mirrors: ['http://127.0.0.1:5151'] });
 * entry.digest; // sha256:… of the index
 */
export async function resolveLockEntry(ref: string, registry: RegistryOptions = {}): Promise<LockEntry> {
  const root = await fetchRootManifest(ref, registry);
  if (!isIndex(root.mediaType)) return { digest: root.digest, mediaType: root.mediaType };
  const index = JSON.parse(Buffer.from(root.bytes).toString('utf8')) as ImageIndex;
  const platforms: Record<string, Digest> = {};
  for (const descriptor of (index.manifests ?? []) as Descriptor[]) {
    if (!descriptor.platform || !(isManifest(descriptor.mediaType) || isIndex(descriptor.mediaType)))
      continue;
    if (descriptor.platform.os === 'unknown' || descriptor.platform.architecture === 'unknown') continue;
    const platform = formatPlatform(descriptor.platform);
    platforms[platform] ??= descriptor.digest;
  }
  return { digest: root.digest, mediaType: root.mediaType, platforms };
}

export interface LockBasesOptions extends GraphReferenceOptions {
  /** The lock as it is (`readLock(dir)`); default empty. */
  readonly current?: LockFile;
  /**
   * Which entries to ask the registry about again: `true` every one (`wharf lock --update`), or the
   * references named (`--update alpine:3.20`). Bases not yet in the lock are always resolved.
   */
  readonly update?: true | readonly string[];
  readonly registry?: RegistryOptions;
}

/** What happened to one base in {@link lockBases}. */
export interface LockChange {
  readonly key: string;
  readonly digest: Digest;
  /** `added`: not locked before; `updated`: asked again and moved (`previous` is the old digest). */
  readonly status: 'added' | 'updated' | 'unchanged' | 'kept' | 'removed';
  readonly previous?: Digest;
}

/**
 * The lock for `graph`: every base it uses, each kept from `current` unless `update` names it (or all),
 * the others resolved in the registry; entries the graph no longer uses are dropped. Throws
 * LOCK_UNKNOWN_BASE when `update` names a reference the graph does not use.
 *
 * @example
 * const { lock, changes } = await lockBases(graph, { current: await readLock(dir), update: true });
 * await writeFile(join(dir, LOCK_FILE), formatLock(lock));
 */
export async function lockBases(
  graph: BuildGraph,
  options: LockBasesOptions = {},
): Promise<{ readonly lock: LockFile; readonly changes: readonly LockChange[] }> {
  const current = options.current ?? EMPTY_LOCK;
  const references = baseReferences(graph, options);
  const keys = new Set(references.map((r) => r.key));
  const named = new Set<string>();
  if (Array.isArray(options.update)) {
    for (const ref of options.update as readonly string[]) {
      const key = keyOf(ref);
      if (!keys.has(key)) {
        throw new LockError('LOCK_UNKNOWN_BASE', `--update ${ref}: no stage of this build uses ${key}`, {
          hint: `the bases are ${[...keys].join(', ') || 'none'}; name one of them, or drop the reference to update all`,
        });
      }
      named.add(key);
    }
  }
  const images: Record<string, LockEntry> = {};
  const changes: LockChange[] = [];
  // one registry round trip per base, concurrently: a handful of small manifest GETs
  await Promise.all(
    references.map(async ({ ref, key }) => {
      const before = current.images[key];
      const ask = before === undefined || options.update === true || named.has(key);
      const entry = ask ? await resolveLockEntry(ref, options.registry) : (before as LockEntry);
      images[key] = entry;
      const status = !ask
        ? 'kept'
        : before === undefined
          ? 'added'
          : before.digest === entry.digest
            ? 'unchanged'
            : 'updated';
      changes.push({
        key,
        digest: entry.digest,
        status,
        ...(status === 'updated' && before ? { previous: before.digest } : {}),
      });
    }),
  );
  for (const [key, entry] of Object.entries(current.images)) {
    if (!keys.has(key)) changes.push({ key, digest: entry.digest, status: 'removed' });
  }
  changes.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { lock: { version: 1, images }, changes };
}

/** The lock key of a reference the user typed, naming it in the error when it is not a tag. */
function keyOf(ref: string): string {
  let key: string | undefined;
  try {
    key = lockKey(ref);
  } catch (error) {
    throw new LockError('LOCK_UNKNOWN_BASE', `--update ${ref}: ${(error as Error).message}`, {
      hint: 'name a base as the definition writes it, e.g. --update alpine:3.20',
      cause: error,
    });
  }
  if (key === undefined) {
    throw new LockError('LOCK_UNKNOWN_BASE', `--update ${ref}: a reference pinned by digest is not locked`, {
      hint: 'name the tag, e.g. --update alpine:3.20',
    });
  }
  return key;
}

export interface LockedGraphOptions extends GraphReferenceOptions {
  /** The folder `wharf.lock` is read from: the build definition's (build.ts or Dockerfile). */
  readonly dir: string;
  /**
   * `--locked`: the lock must exist and hold every base, and each tag must still name the locked
   * digest (asked of the registry); otherwise fail naming the base and the fix.
   */
  readonly locked?: boolean;
  /** Registry settings for the `locked` check (mirrors, insecure hosts, CA, credentials). */
  readonly registry?: RegistryOptions;
  /** Receives one log line per pinned base, and a warning per base the lock lacks. */
  readonly onEvent?: EventSink;
}

/**
 * The graph a build runs: its bases pinned to `wharf.lock` in `dir` when that file exists (the graph
 * unchanged when it does not). Says so through `onEvent`: a `log` line per pinned base, a `warning`
 * per base the lock lacks. With `locked`, throws LOCK_MISSING (no file), LOCK_BASE_MISSING (a base not
 * locked), LOCK_TAG_MOVED (the registry's tag names another digest now) or LOCK_CHECK_FAILED (the
 * registry could not be asked).
 *
 * @example
 * const graph = await lockedGraph(toGraph(app), { dir: import.meta.dirname, locked: process.env.CI === 'true' });
 */
export async function lockedGraph(graph: BuildGraph, options: LockedGraphOptions): Promise<BuildGraph> {
  const lock = await readLock(options.dir);
  if (lock === undefined) {
    if (options.locked) {
      throw new LockError('LOCK_MISSING', `--locked: there is no ${LOCK_FILE} in ${options.dir}`, {
        hint: `run wharf lock to write it (beside the definition), or build without --locked`,
      });
    }
    return graph;
  }
  const pinned = pinGraph(graph, lock, options);
  const missing = pinned.missing[0];
  if (options.locked && missing) {
    throw new LockError('LOCK_BASE_MISSING', `--locked: base ${missing.key} is not in ${LOCK_FILE}`, {
      hint: `run wharf lock to add it, or build without --locked`,
    });
  }
  if (options.locked) {
    await Promise.all(
      pinned.pinned.map(async ({ key, entry }) => {
        let now: Digest;
        try {
          now = (await fetchRootManifest(key, options.registry)).digest;
        } catch (error) {
          const why = error instanceof Error ? error.message.split('\n')[0] : String(error);
          throw new LockError('LOCK_CHECK_FAILED', `--locked: cannot check base ${key}: ${why}`, {
            hint: `--locked asks the registry whether the tag moved; build without --locked to use the locked digest as it is`,
            cause: error,
          });
        }
        if (now !== entry.digest) {
          throw new LockError(
            'LOCK_TAG_MOVED',
            `--locked: base ${key} moved: the registry has ${now}, ${LOCK_FILE} has ${entry.digest}`,
            {
              hint: `run wharf lock --update ${key} to take the new image, or build without --locked to keep the locked one`,
            },
          );
        }
      }),
    );
  }
  for (const { key, entry } of pinned.pinned) {
    options.onEvent?.({ type: 'log', text: `${LOCK_FILE}: ${key} pinned to ${entry.digest}` });
  }
  for (const { key } of pinned.missing) {
    options.onEvent?.({
      type: 'warning',
      message: `base ${key} is not in ${LOCK_FILE}: built from the tag as it is now`,
      hint: 'run wharf lock to pin it',
    });
  }
  return pinned.graph;
}
