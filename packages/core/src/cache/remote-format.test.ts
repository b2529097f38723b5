import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { MediaType, sha256Digest } from '../oci/index.js';
import {
  CACHE_CONFIG_MEDIA_TYPE,
  type CacheRecord,
  decodeCacheManifest,
  encodeCacheManifest,
  parseCacheContents,
  parseCacheListings,
  parseCacheManifest,
} from './remote-format.js';

const key = (n: number) => n.toString(16).padStart(64, '0');
const tar = (text: string) => {
  const digest = sha256Digest(new TextEncoder().encode(text));
  return {
    digest,
    diffId: digest,
    size: text.length,
    mediaType: MediaType.ociLayer,
    uncompressedSize: text.length,
  };
};
const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

describe('cache manifest format', () => {
  const records: CacheRecord[] = [
    { key: key(3), layer: tar('b') },
    { key: key(1), layer: tar('a') },
    { key: key(2), layer: null },
    { key: key(4), layer: tar('a') }, // two steps, one layer: listed once
  ];

  it('round-trips records: keys exactly, layers by digest, empty steps as null', () => {
    const encoded = encodeCacheManifest(records);
    const back = decodeCacheManifest(encoded.manifest, encoded.config);
    expect(back.map((r) => [r.key, r.layer?.digest ?? null])).toEqual([
      [key(1), tar('a').digest],
      [key(2), null],
      [key(3), tar('b').digest],
      [key(4), tar('a').digest],
    ]);
    expect(encoded.layers).toHaveLength(2);
    expect(back[0]?.layer).toEqual(tar('a'));
  });

  it('carries cache mounts by id, sorted, their layers after the step layers; without mounts the bytes are as before', () => {
    const mounts = [
      { id: 'pip', layer: tar('p') },
      { id: 'npm', layer: tar('a') }, // shares a step's layer: listed once
    ];
    const encoded = encodeCacheManifest(records, mounts);
    expect(encoded.mounts).toBe(2);
    expect(encoded.layers.map((l) => l.digest)).toEqual([tar('a').digest, tar('b').digest, tar('p').digest]);
    const manifest = parseCacheManifest(encoded.manifest);
    const back = parseCacheContents(encoded.config, manifest);
    expect(back.mounts).toEqual([
      { id: 'npm', layer: tar('a') },
      { id: 'pip', layer: tar('p') },
    ]);
    expect(encodeCacheManifest(records, [...mounts].reverse()).manifestDigest).toBe(encoded.manifestDigest);
    expect(encodeCacheManifest(records, []).manifestDigest).toBe(encodeCacheManifest(records).manifestDigest);
    expect(new TextDecoder().decode(encodeCacheManifest(records).config)).not.toContain('mounts');
    const bad = encode({ wharfCache: 1, records: [], mounts: [{ id: 'x', layer: 9 }] });
    expect(() => parseCacheContents(bad, manifest)).toThrow(/mount 0 names layer 9/);
    const noId = encode({ wharfCache: 1, records: [], mounts: [{ id: '', layer: 0 }] });
    expect(() => parseCacheContents(noId, manifest)).toThrow(/mount 0 has no valid id/);
  });

  it('a compressed layer names the tar it holds; records name the tar, the manifest the compressed blob', () => {
    const gz = { mediaType: MediaType.ociLayerGzip, digest: tar('a.gz').digest, size: 2 };
    const encoded = encodeCacheManifest(records, [], new Map([[tar('a').digest, gz]]));
    expect(encoded.layers).toEqual([gz, { mediaType: MediaType.ociLayer, digest: tar('b').digest, size: 1 }]);
    const manifest = parseCacheManifest(encoded.manifest);
    const back = parseCacheContents(encoded.config, manifest);
    expect(back.records.find((r) => r.key === key(1))?.layer).toEqual(tar('a'));
    expect(back.transports.get(tar('a').digest)).toEqual(gz);
    // a compressed layer without its tar, or a tar that claims one, is not a usable cache
    const without = encode({ wharfCache: 1, records: [], tars: [null, null] });
    expect(() => parseCacheContents(without, manifest)).toThrow(/compressed layer 0 has no tar/);
    const claims = encode({ wharfCache: 1, records: [], tars: [null, { diffId: tar('x').digest, size: 1 }] });
    expect(() => parseCacheContents(claims, manifest)).toThrow(/layer 0 has no tar|layer 1 is a tar/);
  });

  it('is a plain OCI image manifest with the wharf cache config media type', () => {
    const encoded = encodeCacheManifest(records);
    const manifest = JSON.parse(new TextDecoder().decode(encoded.manifest));
    expect(manifest.schemaVersion).toBe(2);
    expect(manifest.mediaType).toBe(MediaType.ociManifest);
    expect(manifest.config).toEqual({
      mediaType: CACHE_CONFIG_MEDIA_TYPE,
      digest: sha256Digest(encoded.config),
      size: encoded.config.byteLength,
    });
    expect(manifest.layers.every((l: { mediaType: string }) => l.mediaType === MediaType.ociLayer)).toBe(
      true,
    );
    expect(encoded.manifestDigest).toBe(sha256Digest(encoded.manifest));
  });

  it('is deterministic whatever the order of the records', () => {
    const a = encodeCacheManifest(records);
    const b = encodeCacheManifest([...records].reverse());
    expect(b.manifestDigest).toBe(a.manifestDigest);
  });

  it('leaves out records it could not be read back from: bad keys, compressed layers', () => {
    const gzip = { ...tar('z'), digest: sha256Digest(new TextEncoder().encode('gz')) };
    const encoded = encodeCacheManifest([
      { key: 'not-a-key', layer: null },
      { key: key(9), layer: gzip },
      { key: key(1), layer: null },
    ]);
    expect(decodeCacheManifest(encoded.manifest, encoded.config).map((r) => r.key)).toEqual([key(1)]);
    expect(encoded.layers).toEqual([]);
  });

  it('keeps step inputs for explanations, and drops them all when they would near the size limit', () => {
    const inputs = {
      parent: 'p',
      parentIsBase: false,
      config: '{}',
      args: [],
      instruction: 'RUN make',
      files: {},
      epoch: 0,
    };
    const small = encodeCacheManifest([{ key: key(1), layer: null, at: key(7), inputs }]);
    expect(decodeCacheManifest(small.manifest, small.config)).toEqual([
      { key: key(1), layer: null, at: key(7), inputs },
    ]);
    const huge = { ...inputs, config: 'x'.repeat(9 * 1024 * 1024) };
    const big = encodeCacheManifest([{ key: key(1), layer: null, at: key(7), inputs: huge }]);
    expect(big.config.byteLength).toBeLessThan(1000);
    expect(decodeCacheManifest(big.manifest, big.config)).toEqual([{ key: key(1), layer: null }]);
  });

  it('refuses what is not a wharf cache, naming why (CACHE_REMOTE_INVALID)', () => {
    const encoded = encodeCacheManifest(records);
    const manifest = JSON.parse(new TextDecoder().decode(encoded.manifest));
    const cases: [Uint8Array, RegExp][] = [
      [new TextEncoder().encode('{not json'), /not JSON/],
      [encode({ ...manifest, schemaVersion: 1 }), /not an OCI image manifest/],
      [
        encode({ ...manifest, mediaType: MediaType.ociIndex }),
        /"application\/vnd.oci.image.index.v1\+json", not an OCI image manifest/,
      ],
      [
        encode({ ...manifest, config: { ...manifest.config, mediaType: MediaType.ociConfig } }),
        /not a wharf cache/,
      ],
      [encode({ ...manifest, config: { ...manifest.config, digest: '../../etc' } }), /config descriptor/],
      [
        encode({ ...manifest, layers: [{ ...manifest.layers[0], mediaType: MediaType.dockerLayerGzip }] }),
        /layer 0 is/,
      ],
    ];
    for (const [bytes, message] of cases) {
      expect(() => parseCacheManifest(bytes)).toThrow(message);
      try {
        parseCacheManifest(bytes);
      } catch (error) {
        expect((error as { code: string }).code).toBe('CACHE_REMOTE_INVALID');
      }
    }
  });

  it('refuses a config that does not match, has another version, or names a missing layer', () => {
    const encoded = encodeCacheManifest(records);
    expect(() => decodeCacheManifest(encoded.manifest, encode({ wharfCache: 1, records: [] }))).toThrow(
      /does not match its digest/,
    );
    const withConfig = (config: unknown) => {
      const bytes = encode(config);
      const manifest = JSON.parse(new TextDecoder().decode(encoded.manifest));
      manifest.config = { ...manifest.config, digest: sha256Digest(bytes), size: bytes.byteLength };
      return () => decodeCacheManifest(encode(manifest), bytes);
    };
    expect(withConfig({ wharfCache: 3, records: [] })).toThrow(/format version 3/);
    expect(withConfig({ wharfCache: 1, records: [{ key: key(1), layer: 7 }] })).toThrow(/names layer 7/);
    expect(withConfig({ wharfCache: 1, records: [{ key: 'x', layer: null }] })).toThrow(/no valid key/);
  });

  it("v2 carries step layers' listings in one gzip blob after the layers; a v1 cache still reads", () => {
    const listing = [{ op: 'set', path: 'a', type: 'file', mode: 0o644, uid: 0, gid: 0 }];
    const encoded = encodeCacheManifest(records, [], new Map(), (digest) =>
      digest === tar('a').digest ? listing : undefined,
    );
    const manifest = parseCacheManifest(encoded.manifest);
    expect(manifest.layers.map((l) => l.mediaType)).toEqual([
      MediaType.ociLayer,
      MediaType.ociLayer,
      'application/vnd.wharf.cache.views.v1+json+gzip',
    ]);
    const contents = parseCacheContents(encoded.config, manifest);
    expect(contents.views?.digest).toBe(manifest.layers[2]?.digest);
    const json = new Uint8Array(gunzipSync(encoded.views as Uint8Array));
    const listings = parseCacheListings(json, contents.tarDigests);
    expect([...listings.layers]).toEqual([[tar('a').digest, listing]]);
    expect(listings.bases.size).toBe(0);
    // a listings document that does not match the layers is refused (the cache is ignored, a warning)
    expect(() => parseCacheListings(encode([listing]), contents.tarDigests)).toThrow(/do not match/);
    // a record naming the listings layer as its own is malformed
    const config = JSON.parse(new TextDecoder().decode(encoded.config));
    config.records[0].layer = 2;
    expect(() => parseCacheContents(encode(config), manifest)).toThrow(/names layer 2/);
    // version 1 (no listings, no schemes): read as before
    const v1 = encode({ wharfCache: 1, records: [{ key: key(1), layer: 0 }] });
    const old = parseCacheContents(v1, { ...manifest, layers: manifest.layers.slice(0, 2) });
    expect(old.views).toBeUndefined();
    expect(old.records[0]?.layer?.digest).toBe(manifest.layers[0]?.digest);
  });

  it("the listings layer's own entry carries the base image layers' listings, which older readers ignore", () => {
    const listing = [{ op: 'set', path: 'a', type: 'file', mode: 0o644, uid: 0, gid: 0 }];
    const baseRecords = [{ op: 'set', path: 'etc', type: 'dir', mode: 0o755, uid: 0, gid: 0 }];
    const gz = sha256Digest('base blob');
    const base = { diffId: sha256Digest('base tar'), digest: gz, records: baseRecords };
    const stepListings = (digest: string) => (digest === tar('a').digest ? listing : undefined);
    const encoded = encodeCacheManifest(records, [], new Map(), stepListings, [base, base]);
    const manifest = parseCacheManifest(encoded.manifest);
    const contents = parseCacheContents(encoded.config, manifest);
    const json = new Uint8Array(gunzipSync(encoded.views as Uint8Array));
    const document = JSON.parse(new TextDecoder().decode(json));
    expect(document.at(-1)).toEqual([base]); // once, however many stages share the base
    const listings = parseCacheListings(json, contents.tarDigests, contents.viewsIndex);
    expect([...listings.layers]).toEqual([[tar('a').digest, listing]]);
    expect([...listings.bases]).toEqual([[`${base.diffId} ${gz}`, baseRecords]]);
    // deterministic: the same bases in another order make the same cache
    const other = { ...base, digest: sha256Digest('other'), diffId: sha256Digest('other tar') };
    expect(encodeCacheManifest(records, [], new Map(), stepListings, [base, other]).manifestDigest).toBe(
      encodeCacheManifest(records, [], new Map(), stepListings, [other, base]).manifestDigest,
    );
    // without bases the document is as before (the listings layer's own entry is null)
    const plain = encodeCacheManifest(records, [], new Map(), stepListings);
    expect(JSON.parse(gunzipSync(plain.views as Uint8Array).toString()).at(-1)).toBeNull();
    // a malformed base listing makes the listings unusable, as a malformed step listing does
    const bad = encode([...document.slice(0, -1), [{ diffId: 'x', digest: gz, records: [] }]]);
    expect(() => parseCacheListings(bad, contents.tarDigests, contents.viewsIndex)).toThrow(
      /base listing 0 is malformed/,
    );
  });
});
