/**
 * Invariant checkers (go-containerregistry's `validate`): everything an Image or ImageIndex says about
 * itself must agree — digests and sizes with bytes, diffIDs with tars, the config's rootfs with the
 * layers, history with the layer count — and its documents must pass oci/validate's rules. Tests call
 * these after every mutation and round trip instead of asserting fields one by one.
 */
import { isDeepStrictEqual } from 'node:util';
import { WharfError } from '../errors.js';
import { hashStream, type Image, type ImageIndex, uncompressedSize } from '../image/index.js';
import {
  validateIndex as indexRules,
  isConfig,
  isManifest,
  normalizePlatform,
  sha256Digest,
  validateConfig,
  validateManifest,
} from '../oci/index.js';

/** Thrown by {@link validateImage} / {@link validateIndex}; the message lists every problem. */
export class ValidationError extends WharfError<'TESTING_INVALID'> {
  override readonly name: string = 'ValidationError';
  readonly problems: readonly string[];

  constructor(what: string, problems: readonly string[]) {
    super('TESTING_INVALID', `${what} is inconsistent:\n  - ${problems.join('\n  - ')}`);
    this.problems = problems;
  }
}

export interface ValidateOptions {
  /** Stream every layer to check digest, size and diffID (default true; off for huge images). */
  readonly layers?: boolean;
}

function parse(bytes: Uint8Array): unknown {
  return JSON.parse(Buffer.from(bytes).toString('utf8'));
}

/** Every inconsistency in `image`, as messages (empty when valid). */
export async function imageProblems(image: Image, options: ValidateOptions = {}): Promise<string[]> {
  const problems: string[] = [];
  const p = (message: string) => problems.push(message);
  const [rawManifest, manifest, digest, mediaType] = await Promise.all([
    image.rawManifest(),
    image.manifest(),
    image.digest(),
    image.mediaType(),
  ]);
  const parsedManifest = parse(rawManifest);
  if (!isDeepStrictEqual(JSON.parse(JSON.stringify(manifest)), parsedManifest))
    p('manifest() differs from rawManifest()');
  if (sha256Digest(rawManifest) !== digest) p(`digest() ${digest} is not the sha256 of rawManifest()`);
  if (manifest.schemaVersion !== 2) p(`schemaVersion is ${manifest.schemaVersion}, not 2`);
  if (manifest.mediaType !== undefined && manifest.mediaType !== mediaType) {
    p(`mediaType() ${mediaType} differs from the manifest's ${manifest.mediaType}`);
  }
  if (!isManifest(mediaType)) p(`mediaType() ${mediaType} is not an image manifest type`);
  for (const r of validateManifest(parsedManifest)) p(`manifest ${r.path}: ${r.message}`);

  const [rawConfig, config, configDescriptor] = await Promise.all([
    image.rawConfig(),
    image.config(),
    image.configDescriptor(),
  ]);
  const parsedConfig = parse(rawConfig);
  if (!isDeepStrictEqual(JSON.parse(JSON.stringify(config)), parsedConfig))
    p('config() differs from rawConfig()');
  if (!isDeepStrictEqual(configDescriptor, manifest.config))
    p('configDescriptor() differs from manifest.config');
  if (sha256Digest(rawConfig) !== manifest.config.digest) {
    p(
      `config digest ${manifest.config.digest} is not the sha256 of rawConfig() (${sha256Digest(rawConfig)})`,
    );
  }
  if (rawConfig.byteLength !== manifest.config.size) {
    p(`config size ${manifest.config.size} differs from rawConfig() length ${rawConfig.byteLength}`);
  }
  if (!isConfig(manifest.config.mediaType))
    p(`config media type ${manifest.config.mediaType} is not an image config`);
  for (const r of validateConfig(parsedConfig)) p(`config ${r.path}: ${r.message}`);

  const layers = await image.layers();
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (config.rootfs?.type !== 'layers') p(`rootfs.type is ${String(config.rootfs?.type)}, not "layers"`);
  if (layers.length !== manifest.layers.length) {
    p(`layers() has ${layers.length} layers, the manifest ${manifest.layers.length}`);
  }
  if (diffIds.length !== manifest.layers.length) {
    p(`rootfs.diff_ids has ${diffIds.length} entries, the manifest ${manifest.layers.length} layers`);
  }
  const history = config.history ?? [];
  const withLayer = history.filter((h) => !h.empty_layer).length;
  if (history.length > 0 && withLayer !== layers.length) {
    p(`history has ${withLayer} entries with a layer, the image ${layers.length} layers`);
  }

  for (const [i, layer] of layers.entries()) {
    const n = `layer ${i + 1}`;
    const descriptor = manifest.layers[i];
    const [ld, ls, lm, lid] = await Promise.all([
      layer.digest(),
      layer.size(),
      layer.mediaType(),
      layer.diffId(),
    ]);
    if (descriptor) {
      if (ld !== descriptor.digest)
        p(`${n}: digest() ${ld} differs from its descriptor's ${descriptor.digest}`);
      if (ls !== descriptor.size) p(`${n}: size() ${ls} differs from its descriptor's ${descriptor.size}`);
      if (lm !== descriptor.mediaType)
        p(`${n}: mediaType() ${lm} differs from its descriptor's ${descriptor.mediaType}`);
    }
    if (diffIds[i] !== undefined && lid !== diffIds[i])
      p(`${n}: diffId() ${lid} differs from rootfs.diff_ids[${i}] ${diffIds[i]}`);
    if (options.layers === false) continue;
    const compressed = await hashStream(await layer.compressed());
    if (compressed.digest !== ld) p(`${n}: compressed() hashes to ${compressed.digest}, digest() says ${ld}`);
    if (compressed.size !== ls) p(`${n}: compressed() has ${compressed.size} bytes, size() says ${ls}`);
    const tar = await hashStream(await layer.uncompressed());
    if (tar.digest !== lid) p(`${n}: uncompressed() hashes to ${tar.digest}, diffId() says ${lid}`);
    const known = await uncompressedSize(layer);
    if (known !== tar.size) p(`${n}: uncompressedSize ${known} differs from the tar's ${tar.size} bytes`);
  }
  return problems;
}

/** Throws {@link ValidationError} unless `image` is consistent (see the module doc). */
export async function validateImage(image: Image, options: ValidateOptions = {}): Promise<void> {
  const problems = await imageProblems(image, options);
  if (problems.length > 0) throw new ValidationError(`image ${await image.digest()}`, problems);
}

/** Every inconsistency in `index` and, recursively, in the images and indexes it lists. */
export async function indexProblems(index: ImageIndex, options: ValidateOptions = {}): Promise<string[]> {
  const problems: string[] = [];
  const p = (message: string) => problems.push(message);
  const [raw, manifest, digest] = await Promise.all([index.rawManifest(), index.manifest(), index.digest()]);
  const parsed = parse(raw);
  if (!isDeepStrictEqual(JSON.parse(JSON.stringify(manifest)), parsed))
    p('manifest() differs from rawManifest()');
  if (sha256Digest(raw) !== digest) p(`digest() ${digest} is not the sha256 of rawManifest()`);
  if (manifest.schemaVersion !== 2) p(`schemaVersion is ${manifest.schemaVersion}, not 2`);
  for (const r of indexRules(parsed)) p(`index ${r.path}: ${r.message}`);
  for (const entry of await index.images()) {
    const d = entry.descriptor;
    const [imageDigest, imageRaw, config] = await Promise.all([
      entry.image.digest(),
      entry.image.rawManifest(),
      entry.image.config(),
    ]);
    if (imageDigest !== d.digest) p(`entry ${d.digest}: the image's digest is ${imageDigest}`);
    if (imageRaw.byteLength !== d.size)
      p(`entry ${d.digest}: size ${d.size}, manifest has ${imageRaw.byteLength} bytes`);
    if (d.platform) {
      const want = normalizePlatform(d.platform);
      const got = normalizePlatform({
        architecture: config.architecture,
        os: config.os,
        ...(config.variant ? { variant: config.variant } : {}),
      });
      if (
        want.os !== got.os ||
        want.architecture !== got.architecture ||
        (want.variant ?? '') !== (got.variant ?? '')
      ) {
        p(
          `entry ${d.digest}: platform ${JSON.stringify(d.platform)} differs from the config's ${JSON.stringify(got)}`,
        );
      }
    }
    for (const q of await imageProblems(entry.image, options)) p(`image ${d.digest}: ${q}`);
  }
  for (const nested of await index.indexes()) {
    const d = nested.descriptor;
    if ((await nested.index.digest()) !== d.digest) p(`nested index ${d.digest}: digest differs`);
    for (const q of await indexProblems(nested.index, options)) p(`index ${d.digest}: ${q}`);
  }
  return problems;
}

/** Throws {@link ValidationError} unless `index` and everything in it is consistent. */
export async function validateIndex(index: ImageIndex, options: ValidateOptions = {}): Promise<void> {
  const problems = await indexProblems(index, options);
  if (problems.length > 0) throw new ValidationError(`index ${await index.digest()}`, problems);
}
