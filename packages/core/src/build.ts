/**
 * `build()`: the programmatic API for scripts (monorepos building many images with one shared cache).
 * Takes a stage or `define()` value, builds it with the direct backend and writes the outputs.
 *
 * @example
 * import { build, stage } from '@wharf/core';
 * const app = stage('app').from('alpine:3.20').copy('dist', '/app').cmd(['/app/server']);
 * const { digest, steps } = await build(app, {
 *   contextDir: import.meta.dirname,
 *   output: { type: 'oci-archive', dest: 'out/app.tar' },
 *   tags: ['registry.example.com/app:1.0'],
 * });
 */
import { type Definition, toGraph } from './dsl/graph.js';
import type { Stage } from './dsl/stage.js';
import { type BuildOptions, buildGraph } from './engine/build.js';
import { unknownNameHint, WharfError } from './errors.js';
import type { BuildEvent } from './events.js';
import { exportImage } from './export/export.js';
import { type OutputSpec, parseOutput } from './export/output.js';
import { canonicalJson, type Digest, sha256Digest } from './oci/index.js';
import type { PushOptions } from './registry/index.js';
import type { SbomFormat } from './sbom/index.js';
import { attestPushed, type ProvenanceMode } from './sign/index.js';

/**
 * Options of `build()`: the engine's (target, platform, build args, secrets, cache, registry, events)
 * plus outputs, tags, push settings and attestations. A misspelt option is an error.
 * @example await build(app, { contextDir: import.meta.dirname, output: 'type=oci-archive,dest=out/app.tar' })
 */
export interface BuildApiOptions extends Omit<BuildOptions, 'contextDir'> {
  /** The folder context paths are relative to; default the current directory. */
  readonly contextDir?: string;
  /** Where to write the image (a spec or `-o` text); several allowed. None: build only. */
  readonly output?: OutputSpec | string | readonly (OutputSpec | string)[];
  /** Image names recorded in outputs (and pushed to, for `type=registry`). */
  readonly tags?: readonly string[];
  /** Registry settings for pushing. */
  readonly push?: PushOptions;
  /** Attach an SBOM to each pushed image (`--sbom`): SPDX 2.3 JSON unless a format is named. */
  readonly sbom?: boolean | SbomFormat;
  /** Attach SLSA v1 provenance to each pushed image (`--provenance`): mode min unless `'max'`. */
  readonly provenance?: boolean | ProvenanceMode;
  /** The builder named in provenance; default `https://wharf.dev/builder/wharf-api`, version `unknown`. */
  readonly builder?: { readonly id: string; readonly version: string };
}

/** Every option `build()` takes: the compiler keeps this in step with {@link BuildApiOptions}. */
const OPTION_NAMES = Object.keys({
  contextDir: true,
  output: true,
  tags: true,
  push: true,
  sbom: true,
  provenance: true,
  builder: true,
  target: true,
  platform: true,
  buildArgs: true,
  buildContexts: true,
  store: true,
  cacheDir: true,
  epoch: true,
  noCache: true,
  pull: true,
  secrets: true,
  allow: true,
  registry: true,
  compressEarly: true,
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

export interface StepTiming {
  readonly stage: string;
  readonly step: number;
  readonly text: string;
  readonly ms: number;
  readonly cached: boolean;
  readonly miss?: string;
}

/**
 * What `build()` returns: the image digest, its compressed size and each step's timing.
 * @example const { digest, steps } = await build(app); console.log(digest, steps.filter((s) => !s.cached).length);
 */
export interface BuildApiResult {
  readonly digest: Digest;
  /** Compressed size of the image's layers, in bytes. */
  readonly size: number;
  readonly steps: readonly StepTiming[];
}

/**
 * Builds a stage or `define()` value with the direct backend (no daemon) and writes its outputs.
 * @example
 * const { digest } = await build(app, {
 *   contextDir: import.meta.dirname,
 *   output: { type: 'oci-archive', dest: 'out/app.tar' },
 *   tags: ['registry.example.com/app:1.0'],
 * });
 */
export async function build(
  target: Stage | Definition,
  options: BuildApiOptions = {},
): Promise<BuildApiResult> {
  checkOptionNames(options);
  const startedOn = new Date();
  const steps: StepTiming[] = [];
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
    options.onEvent?.(event);
  };
  const graph = toGraph(target, options.target ? { target: options.target } : {});
  const result = await buildGraph(graph, {
    ...options,
    contextDir: options.contextDir ?? process.cwd(),
    onEvent,
  });
  const outputs =
    options.output === undefined ? [] : Array.isArray(options.output) ? options.output : [options.output];
  for (const output of outputs as (OutputSpec | string)[]) {
    const spec = typeof output === 'string' ? parseOutput(output) : output;
    // docker-archive holds tars: the layers as built, no compression needed.
    const done = await exportImage(
      spec.type === 'docker-archive' ? result.uncompressedImage : result.image,
      spec,
      {
        tags: options.tags ?? [],
        ...(options.push ? { push: options.push } : {}),
      },
    );
    if (done.type === 'registry' && (options.sbom || options.provenance)) {
      const config = await result.image.config();
      await attestPushed(result.image, done.names, {
        sbom: options.sbom === true ? 'spdx-json' : options.sbom || undefined,
        provenance: options.provenance
          ? {
              mode: options.provenance === 'max' ? 'max' : 'min',
              // an API build has no definition file: the build graph (IR) stands for it
              definition: { path: 'build graph', digest: sha256Digest(canonicalJson(graph)) },
              target: options.target,
              buildArgs: options.buildArgs ?? {},
              platforms: [[config.os, config.architecture, config.variant].filter(Boolean).join('/')],
              contextDir: options.contextDir ?? process.cwd(),
              builder: options.builder ?? { id: 'https://wharf.dev/builder/wharf-api', version: 'unknown' },
              startedOn,
              buildGraph: graph,
            }
          : undefined,
        bases: result.bases ?? [],
        ...(options.push ? { registry: options.push } : {}),
      });
    }
  }
  const manifest = await result.image.manifest();
  // Steps finish out of order (layers are written concurrently): report them in build order.
  const stageOrder = new Map(graph.stages.map((s, i) => [s.name, i]));
  steps.sort((a, b) => (stageOrder.get(a.stage) ?? 0) - (stageOrder.get(b.stage) ?? 0) || a.step - b.step);
  return { digest: result.digest, size: manifest.layers.reduce((sum, l) => sum + l.size, 0), steps };
}
