/**
 * Base images resolved before, for builds that reuse them without asking the registry: what `docker
 * build` does with an image it already has (and `--pull` refreshes). After a pull, the engine records
 * which manifest `ref` named for a platform; the manifest itself goes into the blob store. A later
 * build finds the record, checks that the store still has the manifest, config and every layer, and
 * builds from them: no network, so warm builds skip the registry round trips and work offline.
 *
 * Records: `<store root>/bases/<sha256(ref + platform)>.json` = `{ ref, platform, digest, mediaType,
 * registry, repository, resolvedAt }`, written to a temp file and renamed (concurrent builds: last wins).
 *
 * ```ts
 * const cached = await cachedBase(store, 'node:20-alpine', platform); // Image | undefined
 * const image = cached ?? (await pullAndRecord(...));
 * ```
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../fsutil/files.js';
import { type Image, imageFromManifest } from '../image/index.js';
import {
  type Digest,
  digestHex,
  formatPlatform,
  hostPlatform,
  isDigest,
  normalizePlatform,
  type Platform,
  parsePlatform,
  parseReference,
  sha256Digest,
} from '../oci/index.js';
import { withOrigin } from '../registry/pull.js';
import type { BlobStore } from '../store/store.js';

interface BaseRecord {
  readonly ref: string;
  readonly platform: string;
  readonly digest: Digest;
  readonly mediaType: string;
  readonly registry: string;
  readonly repository: string;
  readonly resolvedAt: string;
}

/** `linux/amd64` style, normalised as the engine does (default: Linux on this machine's architecture). */
function platformKey(platform: Platform | string | undefined): string {
  const given = typeof platform === 'string' ? parsePlatform(platform) : platform;
  return formatPlatform(normalizePlatform(given ?? { ...hostPlatform(), os: 'linux' }));
}

function recordPath(store: BlobStore, ref: string, platform: Platform | string | undefined): string {
  const key = sha256Digest(`${parseReference(ref).toString()}\n${platformKey(platform)}`);
  return join(store.root, 'bases', `${digestHex(key)}.json`);
}

/** Remembers that `ref` named `image` for `platform` (its manifest bytes go into the store). */
export async function recordBase(
  store: BlobStore,
  ref: string,
  platform: Platform | string | undefined,
  image: Image,
): Promise<void> {
  const reference = parseReference(ref);
  const raw = await image.rawManifest();
  const { digest } = await store.put(raw);
  const record: BaseRecord = {
    ref: reference.toString(),
    platform: platformKey(platform),
    digest,
    mediaType: await image.mediaType(),
    registry: reference.registry,
    repository: reference.repository,
    resolvedAt: new Date().toISOString(),
  };
  const path = recordPath(store, ref, platform);
  // lost in a crash, the base is resolved again, so no fsync
  await writeFileAtomic(path, `${JSON.stringify(record)}\n`, { durable: false });
}

/**
 * The image `ref` named for `platform` when it was last pulled, read from the store; undefined when
 * there is no record or the store lost any of its blobs (then the caller pulls again).
 */
export async function cachedBase(
  store: BlobStore,
  ref: string,
  platform: Platform | string | undefined,
): Promise<Image | undefined> {
  let record: BaseRecord;
  try {
    record = JSON.parse(await readFile(recordPath(store, ref, platform), 'utf8')) as BaseRecord;
  } catch {
    return undefined;
  }
  if (typeof record.digest !== 'string' || !isDigest(record.digest) || !(await store.has(record.digest))) {
    return undefined;
  }
  const image = imageFromManifest({
    rawManifest: await store.readBytes(record.digest),
    mediaType: record.mediaType,
    blob: (descriptor) => store.open(descriptor.digest),
  });
  try {
    const manifest = await image.manifest();
    for (const descriptor of [manifest.config, ...manifest.layers]) {
      if (!(await store.has(descriptor.digest))) return undefined;
    }
  } catch {
    return undefined; // not a manifest we can read: pull again
  }
  // pushes of images built on it can still mount its layers from the registry it came from
  return withOrigin(image, { registry: record.registry, repository: record.repository });
}
