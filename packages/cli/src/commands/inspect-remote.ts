/**
 * `wharf inspect REF` for images in a registry: manifest digest and media type, platform, config
 * (entrypoint, cmd, env, user, workdir, labels), layers with sizes; `--json` for the raw documents.
 * A multi-platform image (an index) is shown as one: each platform's manifest digest and size, and the
 * index digest to pin; `--platform` shows one of its images. Nothing is downloaded but the manifest
 * and the config. `inspectRemote` is exported so a local `inspect` (layouts and archives) can hand
 * registry references to it.
 */

import { isWharfError } from '@wharf/core';
import * as oci from '@wharf/core/oci';
import { remoteImage, remoteIndex } from '@wharf/core/registry';
import { configLines, field } from '../render/image-config.js';
import { formatBytes } from '../render/size.js';

/** The report for a remote image, as text or JSON. */
export async function inspectRemote(
  ref: string,
  options: Parameters<typeof remoteImage>[1] & { readonly json?: boolean } = {},
): Promise<string> {
  // A multi-platform image is shown as the index it is, unless --platform picks one of its images.
  if (options.platform === undefined) {
    const index = await inspectIndex(ref, options);
    if (index !== undefined) return index;
  }
  const image = remoteImage(ref, options);
  const [manifest, config, digest, mediaType, configDescriptor] = await Promise.all([
    image.manifest(),
    image.config(),
    image.digest(),
    image.mediaType(),
    image.configDescriptor(),
  ]);
  const reference = oci.parseReference(ref).toString();
  if (options.json) {
    return `${JSON.stringify({ reference, digest, mediaType, manifest, config }, null, 2)}\n`;
  }
  const total = manifest.layers.reduce((n, l) => n + l.size, 0);
  const lines = [
    field('Name', reference),
    field('Digest', digest),
    field('MediaType', mediaType),
    field(
      'Platform',
      oci.formatPlatform({
        os: config.os,
        architecture: config.architecture,
        ...(config.variant ? { variant: config.variant } : {}),
      }),
    ),
    field('Created', config.created ?? '-'),
    field('Config', `${configDescriptor.digest} (${formatBytes(configDescriptor.size)})`),
    ...configLines(config),
    field('Layers', `${manifest.layers.length} (${formatBytes(total)} compressed)`),
    ...manifest.layers.map(
      (l, i) =>
        `  ${String(i + 1).padStart(2)}  ${l.digest}  ${formatBytes(l.size).padStart(9)}  ${l.mediaType}`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}

/** The report for `ref` when it names an index: each entry's platform, digest and size; else undefined. */
async function inspectIndex(
  ref: string,
  options: Parameters<typeof remoteIndex>[1] & { readonly json?: boolean },
): Promise<string | undefined> {
  const index = remoteIndex(ref, options);
  let manifest: Awaited<ReturnType<typeof index.manifest>>;
  try {
    manifest = await index.manifest();
  } catch (error) {
    // A single image: remoteIndex refuses it, and the image report follows.
    if (isWharfError(error) && error.code === 'REGISTRY_UNSUPPORTED') return undefined;
    throw error;
  }
  const [digest, mediaType] = await Promise.all([index.digest(), index.mediaType()]);
  const reference = oci.parseReference(ref).toString();
  if (options.json) return `${JSON.stringify({ reference, digest, mediaType, index: manifest }, null, 2)}\n`;
  const platformOf = (d: oci.Descriptor) => (d.platform ? oci.formatPlatform(d.platform) : '-');
  const width = Math.max(...manifest.manifests.map((d) => platformOf(d).length), 0);
  const lines = [
    field('Name', reference),
    field('Digest', `${digest} (the index: pin this one)`),
    field('MediaType', mediaType),
    field('Manifests', `${manifest.manifests.length} (--platform os/arch shows one)`),
    ...manifest.manifests.map(
      (d) =>
        `  ${platformOf(d).padEnd(width)}  ${d.digest}  ${formatBytes(d.size).padStart(9)}  ${d.mediaType}`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}
