/**
 * The `wharf.lock` format: which digest each base image tag named when it was locked. Stable, sorted,
 * diff-friendly JSON: one entry per reference (its familiar name with the tag: `alpine:3.20`,
 * `node:latest`, `ghcr.io/org/base:1`), holding the digest the tag resolved to (the index's for a
 * multi-platform image, never one platform's), its media type and, for an index, each platform's
 * manifest digest.
 *
 * ```json
 * {
 *   "version": 1,
 *   "images": {
 *     "alpine:3.20": {
 *       "digest": "sha256:…",
 *       "mediaType": "application/vnd.oci.image.index.v1+json",
 *       "platforms": { "linux/amd64": "sha256:…", "linux/arm64": "sha256:…" }
 *     }
 *   }
 * }
 * ```
 */
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { WharfError } from '../errors.js';
import { isNotFound } from '../fsutil/files.js';
import { type Digest, familiarName, isDigest, parseReference } from '../oci/index.js';

/** The file name, beside the build definition (build.ts or Dockerfile). */
export const LOCK_FILE = 'wharf.lock';

/** A lock file is a few lines per base; anything this large is a mistake, not something to parse. */
export const MAX_LOCK_BYTES = 1024 * 1024;

export type LockErrorCode =
  | 'LOCK_INVALID'
  | 'LOCK_MISSING'
  | 'LOCK_BASE_MISSING'
  | 'LOCK_TAG_MOVED'
  | 'LOCK_CHECK_FAILED'
  | 'LOCK_UNKNOWN_BASE';

/** A wharf.lock problem: a malformed file, or (with `--locked`) a base missing from it or moved. */
export class LockError extends WharfError<LockErrorCode> {}

/** What one tag named when it was locked. */
export interface LockEntry {
  /** The digest the tag resolved to: the index's for a multi-platform image, else the manifest's. */
  readonly digest: Digest;
  readonly mediaType: string;
  /** For an index: each platform (`linux/arm64`, normalised as containerd does) → its manifest digest. */
  readonly platforms?: Readonly<Record<string, Digest>>;
}

export interface LockFile {
  readonly version: 1;
  /** By {@link lockKey}: `alpine:3.20`, `ghcr.io/org/base:1`. */
  readonly images: Readonly<Record<string, LockEntry>>;
}

/** A lock with no entries. */
export const EMPTY_LOCK: LockFile = { version: 1, images: {} };

/**
 * The key a reference is locked under: its familiar name with the tag made explicit (`alpine` →
 * `alpine:latest`, `docker.io/library/node:20` → `node:20`); undefined when it is already pinned by
 * digest (nothing to lock). Throws OCI_INVALID_REFERENCE for a malformed reference.
 *
 * @example
 * lockKey('docker.io/library/alpine'); // 'alpine:latest'
 * lockKey('alpine@sha256:…'); // undefined
 */
export function lockKey(ref: string): string | undefined {
  const parsed = parseReference(ref);
  if (parsed.digest !== undefined) return undefined;
  // familiarName would drop `:latest`; the key keeps it, so `alpine` and `alpine:latest` read the same
  return `${familiarName({ registry: parsed.registry, repository: parsed.repository })}:${parsed.tag ?? 'latest'}`;
}

/**
 * True when `lock` pins `ref` (its tag has an entry); false for a malformed reference.
 *
 * @example
 * isLocked(lock, 'docker.io/library/alpine:3.20'); // true when "alpine:3.20" is locked
 */
export function isLocked(lock: LockFile, ref: string): boolean {
  try {
    const key = lockKey(ref);
    return key !== undefined && Object.hasOwn(lock.images, key);
  } catch {
    return false;
  }
}

/** `key` pinned to `digest`: the reference a locked build pulls (`alpine:3.20@sha256:…`). */
export function pinnedReference(key: string, digest: Digest): string {
  return `${key}@${digest}`;
}

/**
 * The lock as text: keys sorted, two-space indentation, a final newline, so the same lock is always the
 * same bytes and a change is a small diff.
 *
 * @example
 * await writeFile('wharf.lock', formatLock(lock));
 */
export function formatLock(lock: LockFile): string {
  const images: Record<string, LockEntry> = {};
  for (const key of Object.keys(lock.images).sort()) {
    const entry = lock.images[key] as LockEntry;
    const platforms = entry.platforms
      ? Object.fromEntries(Object.entries(entry.platforms).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : undefined;
    images[key] = {
      digest: entry.digest,
      mediaType: entry.mediaType,
      ...(platforms && Object.keys(platforms).length > 0 ? { platforms } : {}),
    };
  }
  return `${JSON.stringify({ version: 1, images }, null, 2)}\n`;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Parses and checks a lock file's text; `where` names it in errors (LOCK_INVALID, naming the entry).
 *
 * @example
 * const lock = parseLock(await readFile('wharf.lock', 'utf8'), 'wharf.lock');
 */
export function parseLock(text: string, where: string = LOCK_FILE): LockFile {
  const bad = (why: string) =>
    new LockError('LOCK_INVALID', `${where}: ${why}`, {
      hint: `fix it, or delete ${where} and run wharf lock to write it again`,
    });
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw bad(`not JSON (${(error as Error).message})`);
  }
  if (!isRecord(doc)) throw bad('not a JSON object');
  if (doc.version !== 1) throw bad(`unknown version ${JSON.stringify(doc.version)} (this wharf reads 1)`);
  if (!isRecord(doc.images)) throw bad('"images" must be an object');
  const images: Record<string, LockEntry> = {};
  for (const [key, value] of Object.entries(doc.images)) {
    let canonical: string | undefined;
    try {
      canonical = lockKey(key);
    } catch {
      canonical = undefined;
    }
    if (canonical !== key) {
      throw bad(
        canonical === undefined
          ? `"${key}" is not an image tag`
          : `"${key}" should be written "${canonical}"`,
      );
    }
    if (!isRecord(value)) throw bad(`"${key}" must be an object`);
    if (!isDigest(value.digest)) throw bad(`"${key}".digest is not a digest`);
    if (typeof value.mediaType !== 'string') throw bad(`"${key}".mediaType must be a string`);
    let platforms: Record<string, Digest> | undefined;
    if (value.platforms !== undefined) {
      if (!isRecord(value.platforms)) throw bad(`"${key}".platforms must be an object`);
      platforms = {};
      for (const [platform, digest] of Object.entries(value.platforms)) {
        if (!isDigest(digest)) throw bad(`"${key}".platforms["${platform}"] is not a digest`);
        platforms[platform] = digest;
      }
    }
    images[key] = { digest: value.digest, mediaType: value.mediaType, ...(platforms ? { platforms } : {}) };
  }
  return { version: 1, images };
}

/**
 * The `wharf.lock` in `dir`, or undefined when there is none. Reads at most {@link MAX_LOCK_BYTES}.
 *
 * @example
 * const lock = await readLock(dirname(definitionFile));
 */
export async function readLock(dir: string): Promise<LockFile | undefined> {
  const file = join(dir, LOCK_FILE);
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw new LockError('LOCK_INVALID', `cannot read ${file}: ${(error as Error).message}`, {
      hint: 'check its permissions, or delete it and run wharf lock',
      cause: error,
    });
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) {
      throw new LockError('LOCK_INVALID', `${file} is not a regular file`, {
        hint: 'remove it and run wharf lock',
      });
    }
    const buffer = Buffer.alloc(MAX_LOCK_BYTES + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > MAX_LOCK_BYTES) {
        throw new LockError('LOCK_INVALID', `${file} is larger than ${MAX_LOCK_BYTES} bytes`, {
          hint: 'a lock holds a few lines per base image: delete it and run wharf lock',
        });
      }
    }
    return parseLock(buffer.subarray(0, length).toString('utf8'), file);
  } finally {
    await handle.close();
  }
}
