// The Docker engine for tests: Debian's dockerd 20.10 (BuildKit built in) with our loopback mirror,
// driven through Debian's /usr/bin/docker client (a newer client may sit in /usr/local/bin).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  isAlive,
  pidFromFile,
  type RunOptions,
  run,
  sleep,
  spawnDetached,
  stopPid,
  waitFor,
} from './exec.js';
import { stateDir } from './paths.js';

export const DOCKER_BIN: string = process.env.WHARF_DOCKER_BIN || '/usr/bin/docker';

/** Runs `docker ARGS`; resolves with stdout, throws with stderr in the message. */
export async function docker(args: readonly string[], opts: RunOptions = {}): Promise<string> {
  return (await run(DOCKER_BIN, args, opts)).stdout;
}

/** The daemon's registry mirrors (normalised, no trailing slash), or undefined if it does not answer. */
export async function dockerMirrors(): Promise<string[] | undefined> {
  try {
    const out = await docker(['info', '--format', '{{json .RegistryConfig.Mirrors}}'], { timeoutMs: 15_000 });
    return ((JSON.parse(out) as string[] | null) ?? []).map(normaliseUrl);
  } catch {
    return undefined;
  }
}

const normaliseUrl = (u: string): string => u.replace(/\/+$/, '');

async function pollMirrors(timeoutMs: number): Promise<string[] | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const mirrors = await dockerMirrors();
    if (mirrors || Date.now() > deadline) return mirrors;
    await sleep(250);
  }
}

/** pid of the running dockerd: ours (state dir) first, else the daemon's own pidfile. */
const dockerdPid = (ownPidFile: string): number | undefined =>
  pidFromFile(ownPidFile, 'dockerd') ?? pidFromFile('/var/run/docker.pid', 'dockerd');

/**
 * Makes sure dockerd answers AND uses `registryMirror` for Docker Hub pulls. Otherwise stops the
 * running dockerd (ours, or a hand-started one without the mirror) and starts
 * `dockerd --iptables=false --registry-mirror=URL`, logging to <state>/dockerd.log.
 * dockerd treats 127.0.0.0/8 registries as insecure (plain HTTP) by default, so no other flag is needed.
 * Not for a systemd-managed dockerd: configure `registry-mirrors` in /etc/docker/daemon.json there.
 */
export async function ensureDockerEngine({ registryMirror }: { registryMirror: string }): Promise<void> {
  const want = normaliseUrl(registryMirror);
  const ownPidFile = join(stateDir(), 'dockerd.pid');
  let mirrors = await dockerMirrors();
  // A dockerd that is still starting up: give it a moment before replacing it.
  if (mirrors === undefined && dockerdPid(ownPidFile) !== undefined) mirrors = await pollMirrors(15_000);
  if (mirrors?.includes(want)) return;

  if (process.getuid?.() !== 0) {
    throw new Error(
      `dockerd is ${mirrors ? `running without --registry-mirror=${want}` : 'not reachable'}, and starting it needs root.`,
    );
  }
  const old = dockerdPid(ownPidFile);
  if (old !== undefined) await stopPid(old, 30_000);

  const logFile = join(stateDir(), 'dockerd.log');
  const pid = spawnDetached('dockerd', ['--iptables=false', `--registry-mirror=${want}`], logFile);
  writeFileSync(ownPidFile, String(pid));
  await waitFor(
    `dockerd to answer (log: ${logFile})`,
    async () => {
      if (!isAlive(pid)) throw new Error(`dockerd exited; see ${logFile}`);
      return (await dockerMirrors())?.includes(want) ?? false;
    },
    60_000,
  );
}

export interface DockerBuildOptions {
  contextDir: string;
  /** Path to the Dockerfile (default: contextDir/Dockerfile). */
  dockerfile?: string;
  /** Dockerfile text, sent on stdin (`-f -`); wins over `dockerfile`. */
  dockerfileText?: string;
  tag?: string;
  buildArgs?: Record<string, string>;
  target?: string;
  /** Extra `docker build` flags. */
  args?: readonly string[];
}

/** `DOCKER_BUILDKIT=1 docker build`; resolves with the image id and the plain progress log. */
export async function dockerBuild(o: DockerBuildOptions): Promise<{ imageId: string; log: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-build-'));
  const iidFile = join(dir, 'iid');
  const args = ['build', '--progress=plain', '--iidfile', iidFile];
  if (o.dockerfileText !== undefined) args.push('-f', '-');
  else if (o.dockerfile) args.push('-f', o.dockerfile);
  if (o.tag) args.push('-t', o.tag);
  for (const [k, v] of Object.entries(o.buildArgs ?? {})) args.push('--build-arg', `${k}=${v}`);
  if (o.target) args.push('--target', o.target);
  args.push(...(o.args ?? []), o.contextDir);
  try {
    const { stderr } = await run(DOCKER_BIN, args, {
      env: { DOCKER_BUILDKIT: '1' },
      ...(o.dockerfileText !== undefined ? { input: o.dockerfileText } : {}),
    });
    return { imageId: readFileSync(iidFile, 'utf8').trim(), log: stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The parts of `docker image inspect` tests usually read; everything else is still there. */
export interface DockerImageInspect {
  Id: string;
  RepoTags: string[] | null;
  RepoDigests: string[] | null;
  Architecture: string;
  Os: string;
  Config: {
    User?: string;
    Env?: string[] | null;
    Cmd?: string[] | null;
    Entrypoint?: string[] | null;
    WorkingDir?: string;
    ExposedPorts?: Record<string, object> | null;
    Labels?: Record<string, string> | null;
    [k: string]: unknown;
  };
  RootFS: { Type: string; Layers?: string[] };
  [k: string]: unknown;
}

export async function dockerInspectImage(ref: string): Promise<DockerImageInspect> {
  const [img] = JSON.parse(await docker(['image', 'inspect', ref])) as DockerImageInspect[];
  if (!img) throw new Error(`docker image inspect ${ref}: no result`);
  return img;
}

export interface DockerRunOptions {
  image: string;
  cmd?: readonly string[];
  user?: string;
  env?: Record<string, string>;
  entrypoint?: string;
  workdir?: string;
  /** Extra `docker run` flags (before the image). */
  args?: readonly string[];
}

/** `docker run --rm`; resolves with the container's stdout. */
export async function dockerRun(o: DockerRunOptions): Promise<string> {
  const args = ['run', '--rm'];
  if (o.user) args.push('--user', o.user);
  for (const [k, v] of Object.entries(o.env ?? {})) args.push('-e', `${k}=${v}`);
  if (o.entrypoint !== undefined) args.push('--entrypoint', o.entrypoint);
  if (o.workdir) args.push('--workdir', o.workdir);
  args.push(...(o.args ?? []), o.image, ...(o.cmd ?? []));
  return docker(args);
}
