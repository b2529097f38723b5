/**
 * Which docker CLI the Docker backend runs: one whose BuildKit works. `WHARF_DOCKER` (or the `docker`
 * option) names it outright; otherwise each `docker` on PATH is tried in order, and the first that has
 * the buildx plugin (`docker buildx version`), or is older than 23.0 (BuildKit built into `docker
 * build` with DOCKER_BUILDKIT=1), is taken. A docker 23+ CLI without buildx cannot build with BuildKit
 * ("BuildKit is enabled but the buildx component is missing or broken"), so it is passed over, and
 * when nothing fits the error names each CLI tried, why it failed, and `WHARF_DOCKER`.
 */
import { execFile } from 'node:child_process';
import { access, constants, realpath } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { WharfError } from '../errors.js';

/** A docker CLI that can build with BuildKit, and how. */
export interface DockerClient {
  readonly path: string;
  readonly buildkit: 'buildx' | 'built-in';
}

export interface FindDockerOptions {
  /** A CLI named by the caller; else `env.WHARF_DOCKER`; else each `docker` on `env.PATH`. */
  readonly docker?: string;
  readonly env?: NodeJS.ProcessEnv;
}

/** The docker CLI to build with; a WharfError naming every candidate and `WHARF_DOCKER` when none fits. */
export async function findDocker(options: FindDockerOptions = {}): Promise<DockerClient> {
  const env = options.env ?? process.env;
  const named = options.docker ?? (env.WHARF_DOCKER || undefined);
  if (named !== undefined) {
    const how = options.docker === undefined ? `WHARF_DOCKER=${named}` : named;
    const probed = await probe(named, env);
    if ('path' in probed) return probed;
    throw new WharfError(
      probed.missing ? 'DOCKER_UNAVAILABLE' : 'DOCKER_NO_BUILDKIT',
      `cannot build with ${how}: ${probed.reason}`,
      {
        hint: `set WHARF_DOCKER to a docker CLI whose BuildKit works (one with the buildx plugin, or docker 20.10), or use the direct backend: --backend direct`,
      },
    );
  }
  const candidates = await dockersOnPath(env.PATH ?? '');
  if (candidates.length === 0) {
    throw new WharfError('DOCKER_UNAVAILABLE', 'cannot run docker: no docker on PATH', {
      hint: 'install Docker (with the buildx plugin), or set WHARF_DOCKER=/path/to/docker, or use the direct backend: --backend direct',
    });
  }
  const failures: string[] = [];
  for (const candidate of candidates) {
    const probed = await probe(candidate, env);
    if ('path' in probed) return probed;
    failures.push(`${candidate}: ${probed.reason}`);
  }
  throw new WharfError(
    'DOCKER_NO_BUILDKIT',
    `no docker CLI on PATH can build with BuildKit (${failures.join('; ')})`,
    {
      hint: 'install the buildx plugin (Debian: docker-buildx), or set WHARF_DOCKER=/path/to/docker naming a CLI whose BuildKit works (docker 20.10, or one with buildx), or use the direct backend: --backend direct',
    },
  );
}

/** Each executable `docker` in PATH order, once per real file. */
async function dockersOnPath(path: string): Promise<string[]> {
  const found: string[] = [];
  const seen = new Set<string>();
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const file = join(dir, 'docker');
    try {
      await access(file, constants.X_OK);
      const real = await realpath(file);
      if (seen.has(real)) continue;
      seen.add(real);
      found.push(file);
    } catch {
      // not here
    }
  }
  return found;
}

type Probe = DockerClient | { readonly reason: string; readonly missing?: boolean };

async function probe(docker: string, env: NodeJS.ProcessEnv): Promise<Probe> {
  const buildx = await run(docker, ['buildx', 'version'], env);
  if (buildx.error === 'ENOENT') return { reason: 'not found', missing: true };
  if (buildx.error === 'EACCES') return { reason: 'not executable', missing: true };
  if (buildx.code === 0) return { path: docker, buildkit: 'buildx' };
  const version = await run(docker, ['--version'], env);
  const match = /version (\d+)\.(\d+)/i.exec(version.stdout);
  if (version.code !== 0 || !match) return { reason: `"${docker} --version" failed` };
  const shown = `${match[1]}.${match[2]}`;
  // Before 23.0, `docker build` runs BuildKit itself when DOCKER_BUILDKIT=1; since, only through buildx.
  if (Number(match[1]) < 23) return { path: docker, buildkit: 'built-in' };
  return { reason: `docker ${shown} without the buildx plugin ("docker buildx version" failed)` };
}

/** Runs a short probe; bounded in time and output. */
function run(
  file: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; error?: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env, timeout: 10_000, maxBuffer: 64 * 1024 }, (error, stdout) => {
      const errno = (error as NodeJS.ErrnoException | null)?.code;
      resolve({
        code: error ? (typeof errno === 'number' ? errno : 1) : 0,
        stdout: String(stdout),
        ...(typeof errno === 'string' ? { error: errno } : {}),
      });
    });
  });
}
