/**
 * A base image must be for the platform being built: an index without it already fails when the
 * platform is picked (registry/pull.ts, image/image-index.ts); this catches the single-platform image
 * (a plain manifest, in a registry or a layout) whose config says another os or architecture — used
 * as is, it would give an image labelled for one platform holding binaries for another.
 */
import { WharfError } from '../errors.js';
import { platformOf } from '../image/image-index.js';
import type { Image } from '../image/types.js';
import { formatPlatform, matchPlatform, type Platform } from '../oci/index.js';

/** `image` when its config's platform runs as `wanted`; else `ENGINE_BASE_PLATFORM` naming both. */
export async function assertBasePlatform(image: Image, wanted: Platform, ref: string): Promise<Image> {
  const config = await image.config();
  // A config without os/architecture says nothing to compare (and nothing that could mislead).
  if (!config.os || !config.architecture) return image;
  const has = platformOf(config);
  if (matchPlatform(wanted, has)) return image;
  const asked = formatPlatform(wanted);
  throw new WharfError(
    'ENGINE_BASE_PLATFORM',
    `base image ${ref} is for ${formatPlatform(has)} only, not ${asked}`,
    {
      hint: `use a base image that has ${asked} (a multi-platform image, or one built for it), or build --platform ${formatPlatform(has)}`,
    },
  );
}
