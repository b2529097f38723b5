/**
 * How layers are compressed for distribution: `gzip` (the default, level 6, readable everywhere) or
 * `zstd` (level 3 by default; smaller and faster, but docker 20.10 and umoci 0.4 cannot read it).
 * A plain value the engine, the `-o` parser and the CLI pass around; `normalizeCompression` checks
 * the level and fills in the default.
 *
 * @example
 * normalizeCompression({ format: 'zstd' }); // { format: 'zstd', level: 3 }
 * layerMediaTypeFor(MediaType.ociLayer, { format: 'zstd', level: 3 }); // '…layer.v1.tar+zstd'
 */
import { MediaType } from '../oci/index.js';
import { ImageError } from './errors.js';
import { ZSTD_DEFAULT_LEVEL, ZSTD_MAX_LEVEL } from './zstd.js';

export type CompressionFormat = 'gzip' | 'zstd';

/** A layer compression and its level (default: gzip 6, zstd 3). */
export interface CompressionSpec {
  readonly format: CompressionFormat;
  readonly level?: number;
}

/** wharf's default: gzip at level 6, what every registry client reads. */
export const DEFAULT_COMPRESSION: Required<CompressionSpec> = { format: 'gzip', level: 6 };

const LEVELS: Record<CompressionFormat, { readonly default: number; readonly max: number }> = {
  gzip: { default: 6, max: 9 },
  zstd: { default: ZSTD_DEFAULT_LEVEL, max: ZSTD_MAX_LEVEL },
};

/** `spec` with its level filled in; `IMAGE_UNSUPPORTED_COMPRESSION` for an unknown format or a bad level. */
export function normalizeCompression(spec: CompressionSpec = DEFAULT_COMPRESSION): Required<CompressionSpec> {
  const range = LEVELS[spec.format];
  if (range === undefined) {
    throw new ImageError('IMAGE_UNSUPPORTED_COMPRESSION', `unknown layer compression "${spec.format}"`, {
      hint: 'use gzip or zstd',
    });
  }
  const level = spec.level ?? range.default;
  if (!Number.isInteger(level) || level < 1 || level > range.max) {
    throw new ImageError('IMAGE_UNSUPPORTED_COMPRESSION', `${spec.format} level ${level} is out of range`, {
      hint: `use a whole number from 1 to ${range.max} (default ${range.default})`,
    });
  }
  return { format: spec.format, level };
}

/** True for gzip at level 6 (what a build writes when not told otherwise). */
export function isDefaultCompression(spec: CompressionSpec | undefined): boolean {
  const { format, level } = normalizeCompression(spec);
  return format === DEFAULT_COMPRESSION.format && level === DEFAULT_COMPRESSION.level;
}

const COMPRESSED_OF: Record<CompressionFormat, Readonly<Record<string, string>>> = {
  gzip: { [MediaType.ociLayer]: MediaType.ociLayerGzip, [MediaType.dockerLayer]: MediaType.dockerLayerGzip },
  zstd: { [MediaType.ociLayer]: MediaType.ociLayerZstd, [MediaType.dockerLayer]: MediaType.dockerLayerZstd },
};

/**
 * The media type of an uncompressed tar layer (`mediaType`) once compressed with `spec`; `undefined`
 * for any other layer (already compressed, foreign), which is distributed as it is.
 */
export function layerMediaTypeFor(mediaType: string, spec: CompressionSpec): string | undefined {
  return COMPRESSED_OF[spec.format][mediaType];
}
