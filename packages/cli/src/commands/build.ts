/**
 * `wharf build [build.ts] -o type=…,dest=… [-t name]`: the direct backend (no Docker daemon) by
 * default, or `--backend docker` (docker build with BuildKit); both write the same kinds of output.
 * `wharf build -f Dockerfile [context]` builds a Dockerfile the same way.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type BuildGraph, lowerDockerfile, WharfError } from '@wharf/core';
import {
  type BuildOptions,
  type BuildResult,
  buildImage,
  buildWithDocker,
  defaultStoreRoot,
} from '@wharf/core/engine';
import { checkOutput, exportImage, parseOutput } from '@wharf/core/export';
import type { Image } from '@wharf/core/image';
import type * as oci from '@wharf/core/oci';
import { fileUploadSessions, type RegistryOptions } from '@wharf/core/registry';
import { type Command, Option } from 'commander';
import {
  collect,
  collectPlatforms,
  parseAllow,
  parseBuildArgs,
  parseBuildContextFlags,
  parsePlatformFlag,
  parseSecrets,
} from '../flags.js';
import { interruptSignal } from '../interrupt.js';
import { type LoadedDefinition, loadDefinition } from '../load-definition.js';
import { PROGRESS_MODES, type ProgressMode, progressSink } from '../render/progress.js';
import {
  type AttestFlags,
  attachAfterPush,
  parseAttestFlags,
  provenanceOption,
  sbomOption,
} from './attest.js';
import { type LintMode, lintBeforeBuild, lintInput, lintModeOption } from './lint.js';

interface BuildFlags extends AttestFlags {
  readonly file?: string;
  readonly output?: string[];
  readonly tag?: string[];
  readonly target?: string;
  readonly buildArg?: string[];
  readonly buildContext?: string[];
  readonly platform?: oci.Platform[];
  readonly progress: ProgressMode;
  readonly cacheDir?: string;
  readonly backend: string;
  readonly cache: boolean;
  readonly pull?: boolean;
  readonly secret?: string[];
  readonly allow?: string[];
  readonly registryMirror?: string[];
  readonly insecureRegistry?: string[];
  readonly caFile?: string;
  readonly push?: boolean;
  readonly lint: LintMode;
}

export function registerBuild(program: Command): void {
  program
    .command('build')
    .description('build an image without a Docker daemon and write it where -o says')
    .argument('[definition]', 'build.ts, or with -f the build context folder')
    .option(
      '-f, --file <Dockerfile>',
      'build a Dockerfile instead of build.ts; the argument is then the context (default .)',
    )
    .option(
      '-o, --output <spec>',
      'type=oci,dest=DIR | type=oci-archive,dest=FILE | type=docker-archive,dest=FILE (repeatable)',
      collect,
    )
    .option('-t, --tag <name>', 'image name recorded in the output (repeatable)', collect)
    .option('--target <name>', 'the stage or target to build')
    .option('--build-arg <name=value>', 'set a build argument (repeatable)', collect)
    .option(
      '--build-context <name=source>',
      'NAME=oci-layout://DIR[:TAG|@DIGEST], NAME=docker-image://REF or NAME=DIR for FROM/COPY --from NAME (repeatable)',
      collect,
    )
    .option(
      '--platform <os/arch>',
      'target platform (default: linux on this machine); one per run for now',
      collectPlatforms,
    )
    // an unknown mode (`fancy`) is a usage error (exit 2), not silently plain output
    .addOption(
      new Option('--progress <mode>', 'auto | plain | tty | json | quiet')
        .choices(PROGRESS_MODES)
        .default('auto'),
    )
    .option('--cache-dir <dir>', 'where blobs are kept (default: $XDG_CACHE_HOME/wharf)')
    .option('--backend <name>', 'direct (no daemon) | docker (docker build with BuildKit)', 'direct')
    .option('--push', 'push the image to the registry each -t name points at (same as -o type=registry)')
    .option('--no-cache', 'run every step again (results are still cached for next time)')
    .option('--pull', 'ask the registry for every base image tag (default: reuse one pulled before)')
    .option('--secret <id=…,src=…|env=…>', 'a secret for RUN --mount=type=secret (repeatable)', collect)
    .option(
      '--allow <entitlement>',
      'grant network.host (RUN --network=host) or security.insecure (RUN --security=insecure) (repeatable)',
      collect,
    )
    .option(
      '--registry-mirror <url>',
      'pull Docker Hub images through this mirror first (repeatable)',
      collect,
    )
    .option(
      '--insecure-registry <host>',
      'reach this registry over plain HTTP (repeatable; loopback always)',
      collect,
    )
    .option('--ca-file <pem>', 'trust this CA for registries (besides the system CAs)')
    .addOption(lintModeOption())
    .addOption(sbomOption())
    .addOption(provenanceOption())
    .action(async (definition: string | undefined, flags: BuildFlags) => {
      const startedOn = new Date();
      const platform = parsePlatformFlag(flags.platform);
      // Bad -o specs and --allow values fail before any work is done.
      const allow = parseAllow(flags.allow);
      const outputs = (flags.output ?? []).map((spec) => parseOutput(spec));
      if (flags.push && !outputs.some((o) => o.type === 'registry'))
        outputs.push(parseOutput('type=registry'));
      for (const output of outputs) await checkOutput(output); // a device node as dest=, before any work
      if (
        outputs.some((o) => o.type === 'registry') &&
        !(flags.tag?.length || outputs.some((o) => o.names.length))
      ) {
        throw new WharfError('CLI_PUSH_NO_NAME', 'pushing needs an image name', {
          hint: 'add -t registry.example.com/app:1.0',
        });
      }
      const attestation = parseAttestFlags(
        flags,
        outputs.some((o) => o.type === 'registry'),
      );
      const { graph, contextDir, lint } = await loadGraph(definition, flags);
      const progress = progressSink(flags.progress);
      const onEvent = progress.sink;
      await lintBeforeBuild(flags.lint, lintInput(definition, flags), { graph, lint }, onEvent).catch(
        (error) => {
          progress.close();
          throw error;
        },
      );
      const common = {
        contextDir,
        buildArgs: parseBuildArgs(flags.buildArg),
        // both backends: docker build gets --no-cache, --pull and --secret
        noCache: !flags.cache,
        pull: flags.pull ?? false,
        secrets: parseSecrets(flags.secret),
        allow,
        ...(flags.target ? { target: flags.target } : {}),
        ...(platform ? { platform } : {}),
        onEvent,
      };
      if (outputs.length === 0) {
        onEvent({
          type: 'warning',
          message: 'no output given: the image will be built but not written',
          hint: 'add -o type=oci-archive,dest=image.tar',
        });
      }
      // What stdout gets: the manifest digest of the distributable (gzip) image when an output holds
      // it (oci, oci-archive, registry); otherwise the image ID, as `docker build -q` prints it, so a
      // docker-archive or a build with no output never waits for gzip.
      const needsManifest = outputs.some((o) => o.type !== 'docker-archive');
      let built: Awaited<ReturnType<typeof runBackend>>;
      try {
        built = await runBackend(flags, graph, common, needsManifest);
      } finally {
        progress.close();
      }
      const { result, dispose } = built;
      const imageId = result.uncompressedImage.configDescriptor().then((d) => d.digest);
      // Computing the manifest digest may compress new layers, so it runs alongside the outputs.
      const printed = needsManifest ? result.digest() : imageId;
      printed.catch(() => {});
      imageId.catch(() => {});
      try {
        const written: Promise<void>[] = [];
        for (const output of outputs) {
          const docker = output.type === 'docker-archive';
          const image = docker ? result.uncompressedImage : result.image;
          const done = await exportImage(image, output, {
            tags: flags.tag ?? [],
            push: {
              ...registrySettings(flags),
              sessions: fileUploadSessions(join(flags.cacheDir ?? defaultStoreRoot(), 'uploads')),
            },
          });
          if (done.type === 'registry') {
            await attachAfterPush(image, done.names, attestation, {
              definitionFile: flags.file ?? definition ?? 'build.ts',
              contextDir,
              graph,
              target: flags.target,
              buildArgs: common.buildArgs,
              bases: result.bases,
              startedOn,
              registry: registrySettings(flags),
            });
          }
          written.push(
            (docker ? imageId : printed).then((d) =>
              onEvent({ type: 'output-written', kind: done.type, dest: done.dest ?? '', digest: d }),
            ),
          );
        }
        await Promise.all(written);
        await printed;
      } finally {
        await dispose();
      }
      process.stdout.write(`${await printed}\n`);
    });
}

type CommonOptions = Omit<BuildOptions, 'cacheDir' | 'store' | 'epoch'>;

/** What a backend built: the images, the (lazily computed) digest, and what frees them once exported. */
interface Built {
  readonly image: Image;
  readonly uncompressedImage: Image;
  readonly bases?: BuildResult['bases'];
  digest(): Promise<BuildResult['digest']>;
}

/** Runs the chosen backend; `dispose` frees what the image is read from once it is exported. */
async function runBackend(
  flags: BuildFlags,
  graph: BuildGraph,
  common: CommonOptions,
  needsManifest: boolean,
): Promise<{ result: Built; dispose: () => Promise<void> }> {
  switch (flags.backend) {
    case 'direct': {
      const built = await buildImage(graph, {
        ...common,
        buildContexts: parseBuildContextFlags(flags.buildContext),
        ...(flags.cacheDir ? { cacheDir: flags.cacheDir } : {}),
        // The manifest digest will be printed: gzip the target's new layers as they are made.
        compressEarly: needsManifest,
        registry: registrySettings(flags),
        signal: interruptSignal(),
      });
      return { result: { ...built, digest: () => built.image.digest() }, dispose: async () => {} };
    }
    case 'docker': {
      if (flags.buildContext?.length) {
        throw new WharfError('CLI_BUILD_CONTEXT_BACKEND', '--build-context needs the direct backend', {
          hint: 'drop --backend docker (docker build 20.10 has no --build-context), or use docker buildx build',
        });
      }
      const result = await buildWithDocker(graph, common);
      return { result: { ...result, digest: async () => result.digest }, dispose: result.dispose };
    }
    default:
      throw new WharfError('CLI_BAD_BACKEND', `unknown backend "${flags.backend}"`, {
        hint: 'use --backend direct or --backend docker',
      });
  }
}

async function loadGraph(
  definition: string | undefined,
  flags: BuildFlags,
): Promise<{ graph: BuildGraph; contextDir: string; lint?: LoadedDefinition['lint'] }> {
  if (flags.file === undefined) {
    const loaded = await loadDefinition(
      definition ?? 'build.ts',
      flags.target,
      flags.cacheDir ? { cacheDir: flags.cacheDir } : {},
    );
    return { graph: loaded.graph, contextDir: loaded.dir, lint: loaded.lint };
  }
  let text: string;
  try {
    text = await readFile(flags.file, 'utf8');
  } catch (error) {
    throw new WharfError(
      'CLI_DOCKERFILE_NOT_FOUND',
      `cannot read ${flags.file}: ${(error as Error).message}`,
      {
        hint: 'pass the path of an existing Dockerfile with -f',
      },
    );
  }
  // Build args decide which stage a `FROM ${ARG}` names, as in BuildKit.
  const graph = lowerDockerfile(text, { file: flags.file, buildArgs: parseBuildArgs(flags.buildArg) });
  return { graph, contextDir: resolve(definition ?? '.') };
}

/** Registry settings from the flags (mirrors, insecure hosts, CA). */
function registrySettings(flags: BuildFlags): RegistryOptions {
  return {
    ...(flags.registryMirror?.length ? { mirrors: flags.registryMirror } : {}),
    ...(flags.insecureRegistry?.length ? { insecure: flags.insecureRegistry } : {}),
    ...(flags.caFile ? { caFile: flags.caFile } : {}),
  };
}
