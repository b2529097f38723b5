/**
 * `build()`: the one way wharf builds — the API for scripts (monorepos building many images with one
 * shared cache) and what `wharf build` calls. Takes a stage, a `define()` value or a build graph (a
 * lowered Dockerfile), builds it for one or several platforms (direct backend, or `docker build`),
 * writes every output and reports what it did: the image ID (as `docker load` shows it), the manifest
 * digest, the index digest of a multi-platform image, each output, the pushed references and push
 * counts, and each step's time.
 *
 * Only what an output needs is computed: with only a docker-archive output (or none) no layer is ever
 * gzip-compressed, since a docker-archive holds the tars and the image ID is the config's digest.
 *
 * @example
 * import { build, stage } from '@wharf/core';
 * const app = stage('app').from('alpine:3.20').copy('dist', '/app').cmd(['/app/server']);
 * const { digest, imageId, steps } = await build(app, {
 *   contextDir: import.meta.dirname,
 *   output: 'type=oci-archive,dest=out/app.tar',
 *   tags: ['registry.example.com/app:1.0'],
 *   platforms: ['linux/amd64', 'linux/arm64'],
 * });
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Definition, definitionPlatforms, isDefinition, toGraph } from './dsl/graph.js';
import type { Stage } from './dsl/stage.js';
import { type BuildOptions, type BuiltPlatform, buildPlatforms, pushMountSources } from './engine/build.js';
import { buildWithDockerPlatforms } from './engine/docker-backend.js';
import { unknownNameHint, WharfError } from './errors.js';
import { type BuildEvent, pushEvent } from './events.js';
import {
  buildCompression,
  checkOutput,
  dockerArchiveOfIndex,
  type Exportable,
  exportImage,
} from './export/index.js';
import { type OutputSpec, type OutputType, type ParsedOutput, parseOutput } from './export/output.js';
import { type ImageIndex, indexOfImages, platformOf } from './image/index.js';
import type { BuildGraph } from './ir/types.js';
import { lockedGraph } from './lock/index.js';
import {
  canonicalJson,
  type Digest,
  formatPlatform,
  type Platform,
  parsePlatform,
  sha256Digest,
} from './oci/index.js';
import { fileUploadSessions, type PushOptions, type PushStats, sumPushStats } from './registry/index.js';
import type { SbomFormat } from './sbom/index.js';
import {
  attachToLayout,
  type PreparedAttestations,
  type ProvenanceMode,
  prepareAttestations,
  type SigningOptions,
  stageAttestations,
} from './sign/index.js';
import { defaultStoreRoot } from './store/index.js';

/**
 * Options of `build()`: the engine's (target, platform, build args, secrets, cache, registry, events)
 * plus outputs, tags, push settings and attestations. A misspelt option is an error.
 * @example await build(app, { contextDir: import.meta.dirname, output: 'type=oci-archive,dest=out/app.tar' })
 */
export interface BuildApiOptions
  extends Omit<BuildOptions, 'contextDir' | 'compressEarly' | 'fetchHitsEarly'> {
  /** The folder context paths are relative to; default the current directory. */
  readonly contextDir?: string;
  /**
   * Target platforms (`'linux/arm64'` or parsed), built concurrently in one run; several make one OCI
   * index (for `oci`, `oci-archive` and `registry` outputs). Joined with `platform` when both are given.
   */
  readonly platforms?: readonly (Platform | string)[];
  /** Where to write the image (a spec or `-o` text); several allowed. None: build only. */
  readonly output?: OutputSpec | string | readonly (OutputSpec | string)[];
  /** Image names recorded in outputs (and pushed to, for `type=registry`). */
  readonly tags?: readonly string[];
  /** Registry settings for pushing; default `registry`, with upload sessions kept under the cache dir. */
  readonly push?: PushOptions;
  /** Attach an SBOM to each pushed image (`--sbom`): SPDX 2.3 JSON unless a format is named. */
  readonly sbom?: boolean | SbomFormat;
  /** Attach SLSA v1 provenance to each pushed image (`--provenance`): mode min unless `'max'`. */
  readonly provenance?: boolean | ProvenanceMode;
  /** Sign each pushed image and its SBOM/provenance (`--sign`): Sigstore bundles attached as referrers. */
  readonly sign?: SigningOptions;
  /** The builder named in provenance; default `https://wharf.dev/builder/wharf-api`, version `unknown`. */
  readonly builder?: { readonly id: string; readonly version: string };
  /** The file the build was defined in (build.ts, a Dockerfile), named and hashed in provenance; default the build graph. */
  readonly definitionFile?: string;
  /** `direct` (default: no daemon) or `docker` (`docker build` with BuildKit; one run per platform, in turn). */
  readonly backend?: 'direct' | 'docker';
  /** For the docker backend: the docker CLI; default `$WHARF_DOCKER`, else the first working `docker` on PATH. */
  readonly docker?: string;
  /** Pin bases to the wharf.lock in `dir` (lock/); `locked` fails when one is missing or its tag moved. */
  readonly lock?: { readonly dir: string; readonly locked?: boolean };
}

/** Every option `build()` takes: the compiler keeps this in step with {@link BuildApiOptions}. */
const OPTION_NAMES = Object.keys({
  contextDir: true,
  output: true,
  tags: true,
  push: true,
  sbom: true,
  provenance: true,
  sign: true,
  builder: true,
  definitionFile: true,
  backend: true,
  docker: true,
  lock: true,
  target: true,
  platform: true,
  platforms: true,
  buildArgs: true,
  buildContexts: true,
  store: true,
  cacheDir: true,
  epoch: true,
  noCache: true,
  cacheFrom: true,
  cacheTo: true,
  pull: true,
  secrets: true,
  allow: true,
  registry: true,
  compression: true,
  signal: true,
  onEvent: true,
} satisfies Record<keyof BuildApiOptions, true>);

/** A misspelt option (`cachedir`, `outputs`) would be silently ignored: refuse it instead. */
function checkOptionNames(options: object): void {
  const unknown = Object.keys(options).filter((name) => !OPTION_NAMES.includes(name));
  if (unknown.length > 0) {
    throw new WharfError(
      'BUILD_UNKNOWN_OPTION',
      `build(): unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => JSON.stringify(n)).join(', ')}`,
      { hint: unknownNameHint(unknown, OPTION_NAMES, 'the options are') },
    );
  }
}

/** One step's timing in a build result: its stage, label, whether the cache answered, and seconds spent. */
export interface StepTiming {
  /** The stage; `linux/arm64 app` when several platforms were built. */
  readonly stage: string;
  readonly step: number;
  readonly text: string;
  readonly ms: number;
  readonly cached: boolean;
  readonly miss?: string;
}

/** One platform's image of a build. */
export interface PlatformResult {
  /** `linux/arm64`. */
  readonly platform: string;
  /** The image ID: the config's digest, what `docker load` and `docker images --no-trunc` show. */
  readonly imageId: Digest;
  /** The manifest digest of the gzip image; present when an output holds it (oci, oci-archive, registry). */
  readonly manifestDigest?: Digest;
  /** Compressed size of the image's layers in bytes, with `manifestDigest`. */
  readonly size?: number;
}

/** One output a build wrote. */
export interface OutputResult {
  readonly type: OutputType;
  /** The file or directory written (not for `registry`). */
  readonly dest?: string;
  /** What it holds: the index digest (several platforms), the manifest digest, or the image ID (docker-archive). */
  readonly digest: Digest;
  /** The names it carries; for `registry`, the references pushed. */
  readonly references: readonly string[];
}

/**
 * What `build()` returns: the digest to print and pin, the image ID, per-platform and per-output results,
 * what was pushed, and each step's timing.
 * @example const { digest, imageId, steps } = await build(app); console.log(digest, imageId, steps.filter((s) => !s.cached).length);
 */
export interface BuildApiResult {
  /** What to print and pin: the index digest (several platforms), else the manifest digest, else the image ID. */
  readonly digest: Digest;
  /** The image ID of the (first) platform: the config digest `docker load` reports. */
  readonly imageId: Digest;
  /** The manifest digest (one platform), when an output holds the gzip image. */
  readonly manifestDigest?: Digest;
  /** The OCI index listing every platform's image, when several were built and an output holds it. */
  readonly indexDigest?: Digest;
  /** Compressed size of the image's layers in bytes (one platform), with `manifestDigest`. */
  readonly size?: number;
  /** Each platform's image, in the order asked for. */
  readonly platforms: readonly PlatformResult[];
  readonly outputs: readonly OutputResult[];
  /** Every reference pushed, `registry.example.com/app:1.0@sha256:…`. */
  readonly pushed: readonly string[];
  /** What the pushes sent, summed over registry outputs (absent when nothing was pushed). */
  readonly pushStats?: PushStats;
  /** Each step, in build order. */
  readonly steps: readonly StepTiming[];
}

/** What a backend built, per platform, and what frees it once every output is written. */
interface Built {
  readonly images: readonly BuiltPlatform[];
  dispose(): Promise<void>;
}

/**
 * Builds `target` (a stage, a `define()` value, or a build graph from `lowerDockerfile`) and writes
 * every output; see the module doc.
 *
 * @example
 * const result = await build(app, { output: 'type=docker-archive,dest=app.tar', tags: ['app:dev'] });
 * console.log(result.imageId); // the ID `docker load -i app.tar` prints
 */
export async function build(
  target: Stage | Definition | BuildGraph,
  options: BuildApiOptions = {},
): Promise<BuildApiResult> {
  checkOptionNames(options);
  const startedOn = new Date();
  const contextDir = options.contextDir ?? process.cwd();
  const platforms = [
    ...(options.platform ? [options.platform] : []),
    ...(options.platforms ?? []).map((p) => (typeof p === 'string' ? parsePlatform(p) : p)),
  ];
  // none asked for: the definition's (`define({ platforms })`, or the target's own)
  if (platforms.length === 0 && isDefinition(target))
    platforms.push(...(definitionPlatforms(target, options.target) ?? []).map((p) => parsePlatform(p)));
  const several = new Set(platforms.map((p) => formatPlatform(p))).size > 1;
  const outputs = (
    options.output === undefined ? [] : Array.isArray(options.output) ? options.output : [options.output]
  ).map(
    (o: OutputSpec | string): ParsedOutput =>
      typeof o === 'string' ? parseOutput(o) : { ...o, names: o.names ?? [] },
  );
  // Everything that can be refused is refused before any work.
  for (const output of outputs) {
    if (several && output.type === 'docker-archive') throw dockerArchiveOfIndex(output.dest);
    if (output.type === 'registry' && output.names.length === 0 && !options.tags?.length) {
      throw new WharfError('BUILD_PUSH_NO_NAME', 'pushing needs an image name', {
        hint: 'name the image: -t registry.example.com/app:1.0 (build(): tags: ["registry.example.com/app:1.0"])',
      });
    }
    await checkOutput(output); // a device node as dest=
  }
  const compression = buildCompression(options.compression, outputs); // `-o …,compression=zstd` too
  const steps: StepTiming[] = [];
  const userSink = options.onEvent;
  const onEvent = (event: BuildEvent) => {
    if (event.type === 'step-finished') {
      steps.push({
        stage: event.stage,
        step: event.step,
        text: event.text,
        ms: event.ms,
        cached: event.cached ?? false,
        ...(event.miss ? { miss: event.miss } : {}),
      });
    }
    userSink?.(event);
  };
  const defined = isBuildGraph(target)
    ? target
    : toGraph(target, options.target ? { target: options.target } : {});
  const graph = options.lock ? await lockedGraph(defined, { ...options, ...options.lock, onEvent }) : defined;
  // define({ cacheFrom, cacheTo }) unless the call names its own
  if (isDefinition(target)) options = withDefinitionCaches(options, target);
  // The gzip form is made only when an output holds it; docker-archive holds the tars.
  const needsGzip = outputs.some((o) => o.type !== 'docker-archive');
  // Every output a push to registries that hold an imported cache: its hits are mounted there, not fetched.
  const pushesToCaches =
    outputs.length > 0 &&
    outputs.every(
      (o) =>
        o.type === 'registry' &&
        pushNames(options, o).every((name) => pushMountSources(options.cacheFrom ?? [], name).length > 0),
    );
  const built = await runBackend(graph, compression ? { ...options, compression } : options, {
    contextDir,
    platforms,
    needsGzip,
    fetchHitsEarly: !pushesToCaches,
    onEvent,
  });
  try {
    const images = built.images;
    const index = several ? indexOfImages(images.map((b) => b.image)) : undefined;
    const platformResults = images.map((b) => platformResult(b, needsGzip));
    // Started now, awaited after the outputs: computing digests may compress layers.
    const digests = Promise.all(platformResults);
    digests.catch(() => {});
    const written: OutputResult[] = [];
    const pushed: string[] = [];
    const attestations = new Map<string, Promise<PreparedAttestations[]>>();
    let pushStats: PushStats | undefined;
    for (const output of outputs) {
      const first = images[0] as BuiltPlatform;
      const content: Exportable =
        index ?? (output.type === 'docker-archive' ? first.uncompressedImage : first.image);
      // attestations are made while the push (or layout write) runs: the digests are known before it
      const attesting = startAttestations(images, index, output, {
        graph,
        options,
        contextDir,
        startedOn,
        made: attestations,
      });
      // a push: the attestations' files go up as soon as they are made, while the image is pushed;
      // only their manifests (with `subject`) wait for it
      const staged =
        attesting && output.type === 'registry'
          ? stageAttestations(attesting, pushNames(options, output), options.push ?? options.registry ?? {})
          : undefined;
      let done: Awaited<ReturnType<typeof exportImage>>;
      try {
        done = await exportImage(content, output, {
          tags: options.tags ?? [],
          push: pushOptions(options, onEvent, output.names[0] ?? options.tags?.[0] ?? ''),
        });
        await staged?.attach();
      } finally {
        await staged?.close();
      }
      const digest = output.type === 'docker-archive' ? (await digests)[0]?.imageId : done.digest;
      if (done.pushed) {
        pushed.push(...done.pushed.references.map((r) => `${r}@${done.digest}`));
        pushStats = sumPushStats(pushStats ? [pushStats, done.pushed.stats] : [done.pushed.stats]);
      }
      if (attesting && output.type === 'oci') {
        for (const one of await attesting) await attachToLayout(output.dest, one);
      }
      const result: OutputResult = {
        type: done.type,
        ...(done.dest !== undefined ? { dest: done.dest } : {}),
        digest: digest as Digest,
        references: done.pushed?.references ?? done.names,
      };
      written.push(result);
      onEvent({
        type: 'output-written',
        kind: result.type,
        dest: result.dest ?? '',
        digest: result.digest,
        ...(done.pushed ? { references: done.pushed.references } : {}),
      });
    }
    const perPlatform = await digests;
    const one = perPlatform[0] as PlatformResult;
    const indexDigest = index && needsGzip ? await index.digest() : undefined;
    // Steps finish out of order (layers are written concurrently): report them in build order.
    const stageOrder = new Map(graph.stages.map((s, i) => [s.name, i]));
    const order = (stage: string) => stageOrder.get(stage.slice(stage.lastIndexOf(' ') + 1)) ?? 0;
    // `<`, not localeCompare: its first call loads ICU's collation data (50–120 ms).
    const byText = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);
    steps.sort((a, b) => order(a.stage) - order(b.stage) || byText(a.stage, b.stage) || a.step - b.step);
    return {
      digest: indexDigest ?? (several ? one.imageId : (one.manifestDigest ?? one.imageId)),
      imageId: one.imageId,
      ...(!several && one.manifestDigest ? { manifestDigest: one.manifestDigest } : {}),
      ...(indexDigest ? { indexDigest } : {}),
      ...(!several && one.size !== undefined ? { size: one.size } : {}),
      platforms: perPlatform,
      outputs: written,
      pushed,
      ...(pushStats ? { pushStats } : {}),
      steps,
    };
  } finally {
    await built.dispose();
  }
}

/** A build graph (plain IR data) rather than a DSL value. */
function isBuildGraph(value: Stage | Definition | BuildGraph): value is BuildGraph {
  return (
    !isDefinition(value) && (value as BuildGraph).version === 1 && Array.isArray((value as BuildGraph).stages)
  );
}

function withDefinitionCaches(options: BuildApiOptions, definition: Definition): BuildApiOptions {
  return {
    ...options,
    ...(options.cacheFrom === undefined && definition.cacheFrom ? { cacheFrom: definition.cacheFrom } : {}),
    ...(options.cacheTo === undefined && definition.cacheTo ? { cacheTo: definition.cacheTo } : {}),
  };
}

async function runBackend(
  graph: BuildGraph,
  options: BuildApiOptions,
  run: {
    readonly contextDir: string;
    readonly platforms: readonly Platform[];
    readonly needsGzip: boolean;
    readonly fetchHitsEarly: boolean;
    readonly onEvent: (event: BuildEvent) => void;
  },
): Promise<Built> {
  const backend = options.backend ?? 'direct';
  if (backend === 'docker') {
    if (options.cacheFrom?.length || options.cacheTo?.length) {
      throw new WharfError('BUILD_CACHE_BACKEND', '--cache-to and --cache-from need the direct backend', {
        hint: 'drop --backend docker (wharf cache images are read and written by the direct backend)',
      });
    }
    if (options.buildContexts && Object.keys(options.buildContexts).length > 0) {
      throw new WharfError('BUILD_CONTEXT_BACKEND', '--build-context needs the direct backend', {
        hint: 'drop --backend docker (docker build 20.10 has no --build-context), or use docker buildx build',
      });
    }
    const results = await buildWithDockerPlatforms(graph, {
      contextDir: run.contextDir,
      ...(options.target ? { target: options.target } : {}),
      platforms: distinct(run.platforms),
      ...(options.buildArgs ? { buildArgs: options.buildArgs } : {}),
      ...(options.noCache ? { noCache: true } : {}),
      ...(options.pull ? { pull: true } : {}),
      ...(options.secrets ? { secrets: options.secrets } : {}),
      ...(options.allow ? { allow: options.allow } : {}),
      ...(options.docker ? { docker: options.docker } : {}),
      ...(options.compression ? { compression: options.compression } : {}), // refused unless gzip
      onEvent: run.onEvent,
    });
    const images = await Promise.all(
      results.map(
        async (result): Promise<BuiltPlatform> => ({
          ...result,
          platform: platformOf(await result.image.config()),
        }),
      ),
    );
    return { images, dispose: async () => void (await Promise.all(results.map((r) => r.dispose()))) };
  }
  if (backend !== 'direct') {
    throw new WharfError('BUILD_BAD_BACKEND', `unknown backend "${String(backend)}"`, {
      hint: 'use --backend direct or --backend docker',
    });
  }
  // the engine's options: everything but what only build() reads
  const {
    platform: _one,
    platforms: _many,
    output: _o,
    tags: _t,
    push: _p,
    sbom: _s,
    provenance: _v,
    builder: _b,
    definitionFile: _d,
    backend: _k,
    docker: _c,
    ...engine
  } = options;
  const images = await buildPlatforms(graph, {
    ...engine,
    contextDir: run.contextDir,
    ...(run.platforms.length ? { platforms: run.platforms } : {}),
    // An output will need the gzip layers: make the target's new ones as they are written.
    compressEarly: run.needsGzip,
    fetchHitsEarly: run.fetchHitsEarly,
    onEvent: run.onEvent,
  });
  return { images, dispose: async () => {} };
}

/** Each platform once (`--platform linux/amd64,linux/amd64` is one), in order. */
function distinct(platforms: readonly Platform[]): Platform[] {
  const seen = new Map(platforms.map((p) => [formatPlatform(p), p]));
  return [...seen.values()];
}

/** One platform's IDs: the image ID always, the manifest digest and size when the gzip form is wanted. */
async function platformResult(built: BuiltPlatform, needsGzip: boolean): Promise<PlatformResult> {
  const imageId = (await built.uncompressedImage.configDescriptor()).digest;
  const platform = formatPlatform(built.platform);
  if (!needsGzip) return { platform, imageId };
  const manifest = await built.image.manifest();
  return {
    platform,
    imageId,
    manifestDigest: await built.image.digest(),
    size: manifest.layers.reduce((sum, l) => sum + l.size, 0),
  };
}

/** Push settings: `push`, else `registry`; resumable sessions under the cache; push events forwarded. */
function pushOptions(
  options: BuildApiOptions,
  onEvent: (event: BuildEvent) => void,
  reference: string,
): PushOptions {
  const base = options.push ?? options.registry ?? {};
  const root = options.store?.root ?? options.cacheDir ?? defaultStoreRoot();
  const mountFrom = [
    ...(options.push?.mountFrom ?? []),
    ...pushMountSources(options.cacheFrom ?? [], reference),
  ];
  return {
    ...base,
    ...(mountFrom.length ? { mountFrom } : {}),
    sessions: options.push?.sessions ?? fileUploadSessions(join(root, 'uploads')),
    onEvent: (event) => {
      base.onEvent?.(event);
      const forwarded = pushEvent(reference, event);
      if (forwarded) onEvent(forwarded);
    },
  };
}

/** The names a registry output pushes: the build's tags and the output's own `name=` values. */
function pushNames(options: BuildApiOptions, output: ParsedOutput): string[] {
  return [...new Set([...(options.tags ?? []), ...output.names])];
}

/**
 * Starts the SBOM, provenance and signatures asked for, about each platform image and (several platforms)
 * the index, for a registry or `type=oci` output; undefined when none is asked for or the output holds none.
 */
function startAttestations(
  images: readonly BuiltPlatform[],
  index: ImageIndex | undefined,
  output: ParsedOutput,
  build: {
    graph: BuildGraph;
    options: BuildApiOptions;
    contextDir: string;
    startedOn: Date;
    /** By names: outputs with the same names (a layout and a push) share one SBOM and one set of signatures. */
    made: Map<string, Promise<PreparedAttestations[]>>;
  },
): Promise<PreparedAttestations[]> | undefined {
  const { graph, options, contextDir, startedOn } = build;
  if (!options.sbom && !options.provenance && !options.sign) return undefined;
  if (output.type !== 'registry' && output.type !== 'oci') return undefined;
  const names = [...new Set([...(options.tags ?? []), ...output.names])];
  const key = JSON.stringify(names);
  const made = build.made.get(key);
  if (made) return made;
  const prepared = (async () => {
    const definition = options.definitionFile
      ? { path: options.definitionFile, digest: sha256Digest(await readFile(options.definitionFile)) }
      : // an API build may have no definition file: the build graph (IR) stands for it
        { path: 'build graph', digest: sha256Digest(canonicalJson(graph)) };
    const about = (platforms: readonly BuiltPlatform[]) => ({
      sbom: options.sbom === true ? ('spdx-json' as const) : options.sbom || undefined,
      provenance: options.provenance
        ? {
            mode: options.provenance === 'max' ? ('max' as const) : ('min' as const),
            definition,
            target: options.target,
            buildArgs: options.buildArgs ?? {},
            platforms: platforms.map((b) => formatPlatform(b.platform)),
            contextDir,
            builder: options.builder ?? { id: 'https://wharf.dev/builder/wharf-api', version: 'unknown' },
            startedOn,
            buildGraph: graph,
          }
        : undefined,
      bases: [...new Map(platforms.flatMap((b) => b.bases ?? []).map((b) => [b.digest, b])).values()],
      sign: options.sign,
    });
    return Promise.all([
      ...images.map((built) => prepareAttestations(built.image, names, about([built]))),
      // the index is signed too (and gets a provenance naming every platform; no SBOM: no file tree)
      ...(index ? [prepareAttestations(index, names, about(images))] : []),
    ]);
  })();
  prepared.catch(() => {}); // awaited after the output; a failed push must not leave it unhandled
  build.made.set(key, prepared);
  return prepared;
}
