/**
 * Pure mutations (go-containerregistry's `mutate`): each takes an Image and returns a new, lazy Image
 * that points at its base plus one change. Nothing is read until the new image is asked for something;
 * then config and manifest are computed once, canonically (oci/json.ts), and kept. A mutated image never
 * goes stale because nothing it depends on can change: images and layers are immutable values.
 *
 * Config bytes are re-encoded only when the config changes; fields wharf does not model (Docker's
 * `container_config`, `docker_version`…) are kept in their original order.
 */
import {
  type ContainerConfig,
  type Descriptor,
  type Digest,
  encodeJson,
  type History,
  type ImageConfig,
  type ImageManifest,
  MediaType,
  sha256Digest,
} from '../oci/index.js';
import { ImageError } from './errors.js';
import { convertMediaType, parseConfig, withLayerMediaType } from './partial.js';
import type { Addendum, Image, Layer, MediaTypeFlavor } from './types.js';

type Json = Record<string, unknown>;

interface Change {
  readonly addenda?: readonly Addendum[];
  readonly mapLayer?: (layer: Layer, index: number) => Layer;
  readonly editConfig?: (config: Json) => Json;
  readonly flavor?: MediaTypeFlavor;
}

interface Computed {
  readonly manifest: ImageManifest;
  readonly rawManifest: Uint8Array;
  readonly digest: Digest;
  readonly rawConfig: Uint8Array;
  readonly config: ImageConfig;
  readonly configDescriptor: Descriptor;
  readonly layers: readonly Layer[];
}

function isLayer(value: Layer | Addendum): value is Layer {
  return typeof (value as Layer).digest === 'function';
}

/**
 * `base` with `layers` on top (each a Layer, or `{ layer, history }`). The config's `rootfs.diff_ids`
 * and `history` grow with them (a layer without history gets `{}`); layer descriptors come from the
 * layers themselves.
 */
export function appendLayers(base: Image, ...layers: readonly (Layer | Addendum)[]): Image {
  if (layers.length === 0) return base;
  return new MutatedImage(base, { addenda: layers.map((l) => (isLayer(l) ? { layer: l } : l)) });
}

/** `base` with its container config (`config` field: Env, Cmd, User…) replaced by `edit(old)`. */
export function withConfig(base: Image, edit: (config: ContainerConfig) => ContainerConfig): Image {
  return withConfigFile(base, (file) => ({ ...file, config: edit(file.config ?? {}) }));
}

/**
 * `base` with its whole config file replaced by `edit(old)`. `rootfs` must not change (it describes the
 * layers; use {@link appendLayers}); a change fails with `IMAGE_ROOTFS_CHANGED` when the image is read.
 */
export function withConfigFile(base: Image, edit: (config: ImageConfig) => ImageConfig): Image {
  return new MutatedImage(base, {
    editConfig: (config) => {
      const next = edit(config as unknown as ImageConfig) as unknown as Json;
      if (JSON.stringify(next.rootfs) !== JSON.stringify(config.rootfs)) {
        throw new ImageError(
          'IMAGE_ROOTFS_CHANGED',
          'a config edit changed rootfs, which must match the layers',
          {
            hint: 'add layers with appendLayers(); edit only the other config fields',
          },
        );
      }
      return next;
    },
  });
}

/**
 * `base` with manifest, config and layer media types in one family: `oci` (what wharf writes) or
 * `docker` (schema 2, for registries or tools that want it). Bytes and digests of config and layers
 * do not change; the manifest does (unless it already used that family throughout).
 */
export function withMediaTypes(base: Image, flavor: MediaTypeFlavor): Image {
  return new MutatedImage(base, { flavor });
}

/**
 * `base` with each layer replaced by `map(layer, index)`: the same tar in another blob form (a
 * compressed copy of an uncompressed layer, say). The config does not change, so every replacement
 * must have the diffID of the layer it replaces (checked when the image is read:
 * `IMAGE_ROOTFS_CHANGED`). Layers `map` returns unchanged, or replaces with the same blob (same digest
 * and size: a wrapper that reads it differently), keep their manifest descriptors, and an image whose
 * descriptors all stay keeps its manifest bytes and digest; others are described by their own digest,
 * size and media type (asked concurrently, when the manifest is).
 */
export function mapLayers(base: Image, map: (layer: Layer, index: number) => Layer): Image {
  return new MutatedImage(base, { mapLayer: map });
}

/** RFC 3339 in UTC without fractional zeros, as Go writes it: `2024-01-02T03:04:05Z`. */
export function formatTimestamp(date: Date): string {
  return date.toISOString().replace(/\.000Z$/, 'Z');
}

/**
 * `base` with `created` set on the config and on every history entry (ggcr's `mutate.Time`): the
 * reproducibility helper for `SOURCE_DATE_EPOCH`.
 */
export function withCreated(base: Image, date: Date): Image {
  const created = formatTimestamp(date);
  return new MutatedImage(base, {
    editConfig: (config) => {
      const history = Array.isArray(config.history)
        ? (config.history as Json[]).map((h) => ('created' in h ? { ...h, created } : { created, ...h }))
        : undefined;
      const next: Json = 'created' in config ? { ...config, created } : { created, ...config };
      if (history) next.history = history;
      return next;
    },
  });
}

class MutatedImage implements Image {
  readonly #base: Image;
  readonly #change: Change;
  #computed: Promise<Computed> | undefined;

  constructor(base: Image, change: Change) {
    this.#base = base;
    this.#change = change;
  }

  #get(): Promise<Computed> {
    this.#computed ??= this.#compute();
    return this.#computed;
  }

  async #compute(): Promise<Computed> {
    const base = this.#base;
    const { addenda, editConfig, flavor, mapLayer } = this.#change;
    const [baseManifest, baseRawConfig, baseLayers, baseMediaType] = await Promise.all([
      base.manifest(),
      base.rawConfig(),
      base.layers(),
      base.mediaType(),
    ]);

    let rawConfig = baseRawConfig;
    if (addenda || editConfig) {
      let config = parseConfig(baseRawConfig) as unknown as Json;
      if (addenda) config = await appendToConfig(config, baseLayers.length, addenda);
      if (editConfig) config = editConfig(config);
      rawConfig = encodeJson(config);
    }
    const config = parseConfig(rawConfig);

    let layers: Layer[] = [...baseLayers];
    let layerDescriptors: Descriptor[] = [...baseManifest.layers];
    // Appended and re-stored layers take the base manifest's family of media types: a Docker schema 2
    // manifest that lists an OCI layer is accepted by Docker but rejected by skopeo and containerd.
    const baseFlavor: MediaTypeFlavor =
      (baseManifest.mediaType ?? baseMediaType) === MediaType.dockerManifest ? 'docker' : 'oci';
    const inFamily = async (layer: Layer): Promise<{ layer: Layer; mediaType: string }> => {
      const own = await layer.mediaType();
      const mediaType = convertMediaType(own, baseFlavor);
      return { layer: mediaType === own ? layer : withLayerMediaType(layer, mediaType), mediaType };
    };
    let mapped = false;
    if (mapLayer) {
      layers = layers.map((layer, i) => mapLayer(layer, i));
      const described = await Promise.all(
        layers.map(async (layer, i) => {
          const before = baseManifest.layers[i] as Descriptor;
          if (layer === baseLayers[i]) return { layer, descriptor: before };
          const [family, digest, size, diffId] = await Promise.all([
            inFamily(layer),
            layer.digest(),
            layer.size(),
            layer.diffId(),
          ]);
          if (diffId !== config.rootfs.diff_ids[i]) {
            throw new ImageError(
              'IMAGE_ROOTFS_CHANGED',
              `layer ${i + 1} was replaced by a layer with another diffID (${diffId}, expected ${config.rootfs.diff_ids[i]})`,
              { hint: 'mapLayers() changes how a layer is stored, not its content; use appendLayers()' },
            );
          }
          // The same blob read another way keeps its descriptor (annotations, urls) and the manifest.
          if (digest === before.digest && size === before.size) return { layer, descriptor: before };
          return { layer: family.layer, descriptor: { mediaType: family.mediaType, digest, size } };
        }),
      );
      mapped = described.some((d, i) => d.descriptor !== baseManifest.layers[i]);
      layers = described.map((d) => d.layer);
      layerDescriptors = described.map((d) => d.descriptor);
    }
    for (const { layer } of addenda ?? []) {
      const [family, digest, size] = await Promise.all([inFamily(layer), layer.digest(), layer.size()]);
      layers.push(family.layer);
      layerDescriptors.push({ mediaType: family.mediaType, digest, size });
    }

    let mediaType = baseManifest.mediaType ?? baseMediaType;
    let configMediaType = baseManifest.config.mediaType;
    if (flavor) {
      mediaType = convertMediaType(mediaType, flavor);
      configMediaType = convertMediaType(configMediaType, flavor);
      layerDescriptors = layerDescriptors.map((d) => ({
        ...d,
        mediaType: convertMediaType(d.mediaType, flavor),
      }));
      layers = layers.map((layer, i) => {
        const before = baseManifest.layers[i]?.mediaType;
        const after = (layerDescriptors[i] as Descriptor).mediaType;
        return before === after ? layer : withLayerMediaType(layer, after);
      });
    }

    const unchanged =
      rawConfig === baseRawConfig &&
      !addenda &&
      !mapped &&
      mediaType === (baseManifest.mediaType ?? baseMediaType) &&
      configMediaType === baseManifest.config.mediaType &&
      layerDescriptors.every((d, i) => d.mediaType === baseManifest.layers[i]?.mediaType);
    if (unchanged) {
      const rawManifest = await base.rawManifest();
      return {
        manifest: baseManifest,
        rawManifest,
        digest: await base.digest(),
        rawConfig,
        config,
        configDescriptor: await base.configDescriptor(),
        layers,
      };
    }

    const configDescriptor: Descriptor = {
      mediaType: configMediaType,
      digest: rawConfig === baseRawConfig ? baseManifest.config.digest : sha256Digest(rawConfig),
      size: rawConfig.byteLength,
    };
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType,
      config: configDescriptor,
      layers: layerDescriptors,
      ...(baseManifest.annotations ? { annotations: baseManifest.annotations } : {}),
    };
    const rawManifest = encodeJson(manifest);
    return {
      manifest,
      rawManifest,
      digest: sha256Digest(rawManifest),
      rawConfig,
      config,
      configDescriptor,
      layers,
    };
  }

  async mediaType(): Promise<string> {
    return (await this.#get()).manifest.mediaType ?? MediaType.ociManifest;
  }
  async manifest(): Promise<ImageManifest> {
    return (await this.#get()).manifest;
  }
  async rawManifest(): Promise<Uint8Array> {
    return (await this.#get()).rawManifest;
  }
  async digest(): Promise<Digest> {
    return (await this.#get()).digest;
  }
  async config(): Promise<ImageConfig> {
    return (await this.#get()).config;
  }
  async rawConfig(): Promise<Uint8Array> {
    return (await this.#get()).rawConfig;
  }
  async configDescriptor(): Promise<Descriptor> {
    return (await this.#get()).configDescriptor;
  }
  async layers(): Promise<readonly Layer[]> {
    return (await this.#get()).layers;
  }
}

/** rootfs.diff_ids and history grown by `addenda`; base layers without history get `{}` entries first. */
async function appendToConfig(
  config: Json,
  baseLayerCount: number,
  addenda: readonly Addendum[],
): Promise<Json> {
  const rootfs = config.rootfs as Json;
  const diffIds = [...(rootfs.diff_ids as Digest[])];
  const history = Array.isArray(config.history) ? [...(config.history as History[])] : [];
  const withLayer = history.filter((h) => !h.empty_layer).length;
  for (let i = withLayer; i < baseLayerCount; i++) history.push({});
  for (const { layer, history: entry } of addenda) {
    diffIds.push(await layer.diffId());
    if (entry?.empty_layer) {
      throw new ImageError(
        'IMAGE_INVALID_CONFIG',
        'the history entry of an appended layer says empty_layer',
        {
          hint: 'record configuration-only steps with withConfigFile(), not with appendLayers()',
        },
      );
    }
    history.push(entry ?? {});
  }
  return { ...config, rootfs: { ...rootfs, diff_ids: diffIds }, history };
}
