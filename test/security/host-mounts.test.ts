// A direct build run as root must leave the host's mounts and binfmt_misc as it found them, and so
// must not disturb a BuildKit build beside it. It did not: slirp4netns's --enable-sandbox, started
// from the host's mount namespace, lazily unmounts its copy of the old root, and the unmount
// propagated through shared mounts (dockerd makes /var/lib/docker shared) into the host's, taking
// BuildKit's RUN rootfs with it: `exec: "/bin/sh": stat /bin/sh: no such file or directory`
// (docs/security/sandbox.md, "Neighbours on the machine"). Each RUN step starts a slirp4netns, so a
// mount below a shared one on the host is unmounted by every build of the old code.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { type CliResult, cliPath, ensureCliBuilt, wharfAsync } from '../helpers/cli.js';
import { dockerBuild } from '../helpers/docker.js';
import { noDocker, testEnv } from '../helpers/env.js';
import { tempDir } from '../helpers/paths.js';

const isRoot = process.getuid?.() === 0;
const BINFMT = '/proc/sys/fs/binfmt_misc';
const execFileAsync = promisify(execFile);

/** RUN steps with the default network (each one a network namespace with slirp4netns). */
const DOCKERFILE = `FROM busybox
RUN echo one > /one && ls /bin/sh
RUN echo two > /two && ls /bin/sh
RUN echo three > /three && ls /bin/sh
`;

/** The host's mount points (point + type), from /proc/self/mountinfo. */
function mountPoints(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const fields = line.split(' ');
      return `${fields[4]} ${fields[fields.indexOf('-') + 1]}`;
    });
}

/**
 * The long-lived part of the host's mount table: builds, containers and other test runs on this
 * machine mount and unmount below /var/lib/docker/, /run, /tmp and /dev/shm/ all the time.
 */
const lasting = (points: readonly string[]) =>
  points.filter((p) => !/^(\/var\/lib\/docker\/|\/run\/|\/tmp\/|\/dev\/shm\/)/.test(p)).sort();

/** Every binfmt_misc entry with its text (flags, interpreter, enabled). */
function binfmtEntries(): Record<string, string> {
  if (!existsSync(BINFMT)) return {};
  const names = readdirSync(BINFMT).filter((name) => name !== 'register'); // write-only
  return Object.fromEntries(names.map((name) => [name, readFileSync(join(BINFMT, name), 'utf8')]));
}

/**
 * The probe: like dockerd's /var/lib/docker (a shared bind mount) with a container's rootfs (a tmpfs)
 * mounted below it. It is made in a mount namespace of the build's own (private, so nothing here
 * reaches the host), with the build run there too: another wharf on this machine cannot touch it.
 * Prints `probe=mounted` or `probe=unmounted` after the build.
 */
const PROBE_SCRIPT = `
dir=$1; shift
mount --bind "$dir" "$dir" && mount --make-shared "$dir"
mkdir "$dir/rootfs" && mount -t tmpfs tmpfs "$dir/rootfs" && echo neighbour > "$dir/rootfs/sh"
"$@"; code=$?
if mountpoint -q "$dir/rootfs" && [ -f "$dir/rootfs/sh" ]; then echo probe=mounted; else echo probe=unmounted; fi
exit $code
`;

/** `wharf build` arguments for DOCKERFILE (its RUN steps echo `tag`), with a cache of its own. */
function buildArgs(tag: string): string[] {
  const context = tempDir('wharf-host-mounts-ctx-');
  writeFileSync(join(context, 'Dockerfile'), DOCKERFILE.replace(/echo /g, `echo ${tag}-`));
  const cacheDir = join(tempDir('wharf-host-mounts-cache-'), 'cache');
  const flags = ['--no-cache', '--lint=off', '--progress=plain', `--registry-mirror=${testEnv().mirror.url}`];
  return ['build', '-f', join(context, 'Dockerfile'), context, ...flags, '--cache-dir', cacheDir];
}

/** The build in a private mount namespace beside the probe (PROBE_SCRIPT); its output says `probe=…`. */
async function buildBesideProbe(tag: string): Promise<CliResult> {
  ensureCliBuilt();
  const probe = [
    '--mount',
    '--propagation',
    'private',
    '--',
    'sh',
    '-c',
    PROBE_SCRIPT,
    'sh',
    tempDir('wharf-probe-'),
  ];
  try {
    const out = await execFileAsync('unshare', [...probe, process.execPath, cliPath, ...buildArgs(tag)], {
      maxBuffer: 64 << 20,
      timeout: 120_000,
    });
    return { code: 0, ...out };
  } catch (error) {
    const e = error as { code?: unknown; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe.skipIf(noDocker() || !isRoot)("a direct build leaves the host's mounts alone", () => {
  it('a mount below a shared mount, the long-lived mount table and binfmt_misc are unchanged after RUN steps', async () => {
    const before = { points: lasting(mountPoints()), binfmt: binfmtEntries() };
    const result = await buildBesideProbe('alone');
    expect(result.code, result.stderr).toBe(0);
    // the old code unmounted it with the first RUN step
    expect(result.stdout).toContain('probe=mounted');
    expect(lasting(mountPoints())).toEqual(before.points);
    expect(binfmtEntries()).toEqual(before.binfmt);
  });

  it('BuildKit builds side by side with it: its RUN steps find /bin/sh', async () => {
    const context = tempDir('wharf-host-mounts-bk-');
    const [direct, buildkit] = await Promise.all([
      wharfAsync(buildArgs('beside')),
      dockerBuild({ contextDir: context, dockerfileText: DOCKERFILE, args: ['--no-cache'] }).then(
        (r) => ({ ok: true as const, log: r.log }),
        (e: Error) => ({ ok: false as const, log: e.message }),
      ),
    ]);
    expect(direct.code, direct.stderr).toBe(0);
    expect(buildkit.log).not.toMatch(/no such file or directory/);
    expect(buildkit.ok, buildkit.log).toBe(true);
  });
});
