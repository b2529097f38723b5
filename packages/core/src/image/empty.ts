/**
 * Scratch: an image with no layers, built the same way any config-plus-layers image is
 * (`imageFromConfig`), with OCI media types.
 */
import {
  encodeJson,
  hostPlatform,
  type ImageConfig,
  normalizePlatform,
  type Platform,
} from '../oci/index.js';
import { imageFromConfig } from './partial.js';
import type { Image } from './types.js';

/** The Linux platform of this machine: the default target. */
export function defaultPlatform(): Platform {
  const host = hostPlatform();
  return normalizePlatform({ ...host, os: 'linux' });
}

/**
 * `FROM scratch` for `platform` (default: Linux on this machine's architecture): a config with os,
 * architecture (and variant, os.version), an empty container config, rootfs with no diff_ids and an
 * empty history; no layers. Deterministic: the same platform always gives the same digests.
 */
export function emptyImage(platform: Platform = defaultPlatform()): Image {
  const p = normalizePlatform(platform);
  const config: ImageConfig = {
    architecture: p.architecture,
    os: p.os,
    ...(p['os.version'] ? { 'os.version': p['os.version'] } : {}),
    ...(p['os.features'] ? { 'os.features': p['os.features'] } : {}),
    ...(p.variant ? { variant: p.variant } : {}),
    config: {},
    rootfs: { type: 'layers', diff_ids: [] },
    history: [],
  };
  return imageFromConfig({ rawConfig: encodeJson(config), layers: [] });
}
