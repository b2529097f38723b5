/**
 * OCI image-spec v1.1 documents as TypeScript types, with the Docker extensions that image configs
 * carry in practice (Healthcheck, Shell, OnBuild, ArgsEscaped). Field names are the JSON names, so a
 * parsed document is used as is. All durations are in **nanoseconds**, as in the JSON.
 */
import type { Digest } from './digest.js';

/** A `{}` value: the JSON spelling of a set member (`ExposedPorts`, `Volumes`). */
export type EmptyObject = Readonly<Record<string, never>>;

export type Annotations = Readonly<Record<string, string>>;

/** A target platform (image-spec `platform` object). */
export interface Platform {
  /** GOARCH spelling: `amd64`, `arm64`, `arm`, `386`, `ppc64le`, `s390x`, `riscv64`… */
  readonly architecture: string;
  /** GOOS spelling: `linux`, `windows`, `darwin`… */
  readonly os: string;
  readonly 'os.version'?: string;
  readonly 'os.features'?: readonly string[];
  /** CPU variant: `v7` for arm, `v8.2` for arm64, `v3` for amd64. Empty means the baseline. */
  readonly variant?: string;
  /** Reserved by the spec. */
  readonly features?: readonly string[];
}

/** A content descriptor: what a blob is, how big and which digest. */
export interface Descriptor {
  readonly mediaType: string;
  readonly digest: Digest;
  readonly size: number;
  readonly urls?: readonly string[];
  readonly annotations?: Annotations;
  /** The content itself, standard base64 with padding (embedded small blobs). */
  readonly data?: string;
  /** Only on descriptors inside an index. */
  readonly platform?: Platform;
  readonly artifactType?: string;
}

/** `application/vnd.oci.image.manifest.v1+json` (and the Docker schema 2 manifest, which has the same shape). */
export interface ImageManifest {
  readonly schemaVersion: 2;
  readonly mediaType?: string;
  readonly artifactType?: string;
  readonly config: Descriptor;
  /** At least one (the schema's `minItems: 1`); use the empty descriptor for a layerless image. */
  readonly layers: readonly Descriptor[];
  readonly subject?: Descriptor;
  readonly annotations?: Annotations;
}

/** `application/vnd.oci.image.index.v1+json` (and the Docker manifest list). */
export interface ImageIndex {
  readonly schemaVersion: 2;
  readonly mediaType?: string;
  readonly artifactType?: string;
  readonly manifests: readonly Descriptor[];
  readonly subject?: Descriptor;
  readonly annotations?: Annotations;
}

/** Docker's HEALTHCHECK settings. Durations are nanoseconds; 0 means "inherit / default". */
export interface HealthConfig {
  /**
   * `[]` inherit, `["NONE"]` disable, `["CMD", arg…]` exec, `["CMD-SHELL", command]` run with the
   * image's shell.
   */
  readonly Test?: readonly string[];
  readonly Interval?: number;
  readonly Timeout?: number;
  readonly StartPeriod?: number;
  readonly StartInterval?: number;
  readonly Retries?: number;
}

/** The runtime defaults in an image config (`config` field). */
export interface ContainerConfig {
  readonly User?: string;
  /** Keys are `port/proto` (`8080/tcp`), values `{}`. */
  readonly ExposedPorts?: Readonly<Record<string, EmptyObject>>;
  /** `KEY=VALUE` entries. */
  readonly Env?: readonly string[];
  readonly Entrypoint?: readonly string[] | null;
  readonly Cmd?: readonly string[] | null;
  readonly Volumes?: Readonly<Record<string, EmptyObject>> | null;
  readonly WorkingDir?: string;
  readonly Labels?: Readonly<Record<string, string>> | null;
  readonly StopSignal?: string;
  /** Docker: Cmd/Entrypoint are already escaped for Windows command lines. */
  readonly ArgsEscaped?: boolean;
  /** Docker extension. */
  readonly Healthcheck?: HealthConfig;
  /** Docker extension: triggers run when this image is used as a base. */
  readonly OnBuild?: readonly string[] | null;
  /** Docker extension: the shell for shell-form RUN/CMD/ENTRYPOINT (`["/bin/sh", "-c"]`). */
  readonly Shell?: readonly string[];
}

export interface RootFS {
  readonly type: 'layers';
  /** Digests of the *uncompressed* layer tars, in order. */
  readonly diff_ids: readonly Digest[];
}

export interface History {
  /** RFC 3339 date-time. */
  readonly created?: string;
  readonly created_by?: string;
  readonly author?: string;
  readonly comment?: string;
  /** True when this step did not produce a layer. */
  readonly empty_layer?: boolean;
}

/** `application/vnd.oci.image.config.v1+json` (and Docker's `container.image.v1+json`). */
export interface ImageConfig {
  /** RFC 3339 date-time. */
  readonly created?: string;
  readonly author?: string;
  readonly architecture: string;
  readonly os: string;
  readonly 'os.version'?: string;
  readonly 'os.features'?: readonly string[];
  readonly variant?: string;
  readonly config?: ContainerConfig;
  readonly rootfs: RootFS;
  readonly history?: readonly History[];
}

/** The `oci-layout` file at the root of an image layout directory. */
export interface ImageLayout {
  readonly imageLayoutVersion: '1.0.0';
}
