import { describe, expect, it } from 'vitest';
import { sha256Digest } from './digest.js';
import {
  EMPTY_JSON_DIGEST,
  isConfig,
  isGzip,
  isIndex,
  isLayer,
  isManifest,
  isNonDistributable,
  isZstd,
  layerCompression,
  MediaType,
} from './media-types.js';

describe('media types', () => {
  it('classifies OCI and Docker documents', () => {
    expect(isIndex(MediaType.ociIndex)).toBe(true);
    expect(isIndex(MediaType.dockerManifestList)).toBe(true);
    expect(isIndex(MediaType.ociManifest)).toBe(false);
    expect(isManifest(MediaType.ociManifest)).toBe(true);
    expect(isManifest(MediaType.dockerManifest)).toBe(true);
    expect(isManifest(MediaType.dockerManifestV1Signed)).toBe(false);
    expect(isConfig(MediaType.dockerConfig)).toBe(true);
    expect(isConfig(MediaType.ociEmpty)).toBe(false);
  });

  it('classifies layers and their compression', () => {
    expect(isLayer(MediaType.ociLayer)).toBe(true);
    expect(isLayer(MediaType.dockerForeignLayerGzip)).toBe(true);
    expect(isLayer(MediaType.ociConfig)).toBe(false);
    expect(isGzip(MediaType.ociLayerGzip)).toBe(true);
    expect(isGzip(MediaType.dockerLayerGzip)).toBe(true);
    expect(isGzip(MediaType.ociLayerZstd)).toBe(false);
    expect(isZstd(MediaType.dockerLayerZstd)).toBe(true);
    expect(isNonDistributable(MediaType.dockerForeignLayerGzip)).toBe(true);
    expect(isNonDistributable(MediaType.ociLayerGzip)).toBe(false);
    expect(layerCompression(MediaType.ociLayer)).toBe('none');
    expect(layerCompression(MediaType.dockerLayerGzip)).toBe('gzip');
    expect(layerCompression(MediaType.ociLayerZstd)).toBe('zstd');
    expect(layerCompression('text/plain')).toBeUndefined();
  });

  it('EMPTY_JSON_DIGEST is the digest of {}', () => {
    expect(sha256Digest('{}')).toBe(EMPTY_JSON_DIGEST);
  });
});
