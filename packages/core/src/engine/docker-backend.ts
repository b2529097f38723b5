/**
 * The Docker backend: emits the Dockerfile, runs `docker build` (BuildKit) on it, and reads the result
 * back with `docker save`, so a build definition works wherever Docker does and produces the same
 * outputs as the direct backend (any `-o` type). The user's context folder is not touched: the
 * Dockerfile and its `Dockerfile.dockerignore` (which BuildKit reads beside a Dockerfile) go to a
 * temporary folder. Several platforms: one `docker build --platform X` each, in turn
 * ({@link buildWithDockerPlatforms}).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readDockerArchive } from '../archive/docker-archive.js';
import { emitDockerfile } from '../dockerfile/emit/index.js';
import { WharfError } from '../errors.js';
import { discardEvents, type EventSink } from '../events.js';
import type { CompressionSpec } from '../image/compression.js';
import { assertEntitled, type Entitlement } from '../ir/entitlements.js';
import { pruneToTarget, targetName } from '../ir/graph.js';
import type { BuildGraph } from '../ir/types.js';
import { assertValidGraph } from '../ir/validate.js';
import { formatPlatform, type Platform } from '../oci/index.js';
import type { SecretSource } from '../runtime/mounts.js';
import type { BuildResult } from './build.js';
import { findDocker } from './docker-client.js';

export interface DockerBuildOptions {
  readonly contextDir: string;
  readonly target?: string;
  readonly platform?: Platform;
  readonly buildArgs?: Readonly<Record<string, string>>;
  /** `docker build --no-cache`. */
  readonly noCache?: boolean;
  /** `docker build --pull`: ask the registry for every base image. */
  readonly pull?: boolean;
  /** `docker build --secret` for each (values given inline go through a 0600 temp file). */
  readonly secrets?: Readonly<Record<string, SecretSource>>;
  /** Entitlements granted (`--allow`), checked as the direct backend does. */
  readonly allow?: readonly Entitlement[];
  readonly onEvent?: EventSink;
  /** Only gzip (or none): `docker save` gives tars, and this backend does not write zstd layers. */
  readonly compression?: CompressionSpec;
  /** The docker CLI; default `$WHARF_DOCKER`, else the first `docker` on PATH whose BuildKit works (docker-client.ts). */
  readonly docker?: string;
}

export interface DockerBuildResult extends BuildResult {
  /** Removes the temporary `docker save` archive the image is read from; call after exporting. */
  dispose(): Promise<void>;
}

export async function buildWithDocker(
  graph: BuildGraph,
  options: DockerBuildOptions,
): Promise<DockerBuildResult> {
  const onEvent = options.onEvent ?? discardEvents;
  if (options.compression !== undefined && options.compression.format !== 'gzip') {
    throw new WharfError(
      'ENGINE_COMPRESSION_BACKEND',
      `the docker backend cannot write ${options.compression.format} layers`,
      { hint: 'build with the direct backend (drop --backend docker) for zstd layers' },
    );
  }
  for (const warning of assertValidGraph(graph)) {
    onEvent({ type: 'warning', message: warning.message, ...(warning.hint ? { hint: warning.hint } : {}) });
  }
  const target = options.target ?? targetName(graph);
  assertEntitled(pruneToTarget(graph, target), options.allow);
  const docker = (await findDocker(options.docker === undefined ? {} : { docker: options.docker })).path;
  const work = await mkdtemp(join(tmpdir(), 'wharf-docker-'));
  try {
    const { dockerfile, dockerignore } = emitDockerfile(graph);
    const dockerfilePath = join(work, 'Dockerfile');
    await writeFile(dockerfilePath, dockerfile);
    if (dockerignore !== undefined) await writeFile(join(work, 'Dockerfile.dockerignore'), dockerignore);
    const iidFile = join(work, 'iid');
    const args = [
      'build',
      '--progress=plain',
      '--iidfile',
      iidFile,
      '-f',
      dockerfilePath,
      '--target',
      target,
    ];
    for (const [name, value] of Object.entries(options.buildArgs ?? {}))
      args.push('--build-arg', `${name}=${value}`);
    if (options.platform) args.push('--platform', formatPlatform(options.platform));
    if (options.noCache) args.push('--no-cache');
    if (options.pull) args.push('--pull');
    args.push(...(await secretFlags(options.secrets ?? {}, work)));
    args.push(resolve(options.contextDir, graph.context.dir));
    await runDocker(docker, args, onEvent);
    const id = (await readFile(iidFile, 'utf8')).trim();
    const saved = join(work, 'image.tar');
    await runDocker(docker, ['save', '-o', saved, id], onEvent);
    const image = await readDockerArchive(saved, { flavor: 'oci' });
    return {
      image,
      uncompressedImage: image,
      digest: await image.digest(),
      target,
      dispose: () => rm(work, { recursive: true, force: true }),
    };
  } catch (error) {
    await rm(work, { recursive: true, force: true });
    throw error;
  }
}

/**
 * Several platforms with Docker 20.10, which has no buildx (one `docker build` makes one platform):
 * one `docker build --platform X` per platform, one after the other — the later ones take the steps
 * they share with the first (a `--platform=$BUILDPLATFORM` stage) from BuildKit's cache, so running
 * them at once would gain little and doubles what the daemon holds in flight. Each is read back with
 * `docker save`; the caller assembles the index. If one fails, the archives made so far are removed.
 *
 * @example
 * const results = await buildWithDockerPlatforms(graph, { contextDir: '.', platforms: [amd64, arm64] });
 * try { await writeIndex(results.map((r) => r.image)); } finally { await Promise.all(results.map((r) => r.dispose())); }
 */
export async function buildWithDockerPlatforms(
  graph: BuildGraph,
  options: Omit<DockerBuildOptions, 'platform'> & { readonly platforms: readonly Platform[] },
): Promise<DockerBuildResult[]> {
  const { platforms, ...rest } = options;
  if (platforms.length <= 1) {
    const [platform] = platforms;
    return [await buildWithDocker(graph, { ...rest, ...(platform ? { platform } : {}) })];
  }
  const onEvent = options.onEvent ?? discardEvents;
  const built: DockerBuildResult[] = [];
  try {
    for (const platform of platforms) {
      const label = formatPlatform(platform);
      built.push(
        await buildWithDocker(graph, {
          ...rest,
          platform,
          // each line of docker's output says which platform's build it comes from
          onEvent: (event) =>
            onEvent(event.type === 'log' ? { ...event, text: `[${label}] ${event.text}` } : event),
        }),
      );
    }
    return built;
  } catch (error) {
    await Promise.all(built.map((b) => b.dispose()));
    throw error;
  }
}

/** `--secret id=…,src=…|env=…` for each secret; inline values are written to files in `work`. */
async function secretFlags(secrets: Readonly<Record<string, SecretSource>>, work: string): Promise<string[]> {
  const flags: string[] = [];
  for (const [id, source] of Object.entries(secrets)) {
    if ('path' in source) flags.push('--secret', `id=${id},src=${resolve(source.path)}`);
    else if ('env' in source) flags.push('--secret', `id=${id},env=${source.env}`);
    else {
      const file = join(work, `secret-${flags.length / 2}`);
      await writeFile(file, source.value, { mode: 0o600 });
      flags.push('--secret', `id=${id},src=${file}`);
    }
  }
  return flags;
}

/** Runs docker, streaming its output as log events; fails with the last lines of output. */
function runDocker(docker: string, args: readonly string[], onEvent: EventSink): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(docker, args, {
      env: { ...process.env, DOCKER_BUILDKIT: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const tail: string[] = [];
    const onData = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() === '') continue;
        tail.push(line);
        if (tail.length > 20) tail.shift();
        onEvent({ type: 'log', text: line });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (error: NodeJS.ErrnoException) => {
      reject(
        new WharfError(
          'DOCKER_UNAVAILABLE',
          `cannot run ${docker}: ${error.code === 'ENOENT' ? 'not found' : error.message}`,
          {
            hint: 'install Docker (or set WHARF_DOCKER to its CLI), or use the direct backend: --backend direct',
          },
        ),
      );
    });
    child.on('close', (code) => {
      if (code === 0) return resolvePromise();
      reject(
        new WharfError(
          'DOCKER_BUILD_FAILED',
          `docker ${args[0]} failed (exit ${code}):\n${tail.join('\n')}`,
          // Every line of docker's output went out as a log event (shown with the progress): no advice
          // to show it again, but where the Dockerfile docker read comes from.
          args[0] === 'build'
            ? {
                hint: 'docker built the Dockerfile wharf emits for this definition (`wharf dockerfile` prints it): fix the step docker names',
              }
            : {},
        ),
      );
    });
  });
}
