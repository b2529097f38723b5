// Repro for "BuildKit's RUN fails with `exec: "/bin/sh": stat /bin/sh: no such file or directory`
// while a wharf direct build runs beside it" (docs/security/sandbox.md, "Neighbours on the machine").
//   pnpm -s build && node bench/concurrent-buildkit.mjs [--seconds 120] [--neighbour wharf|docker|none]
//     [--network default|none] [--cli OTHER/packages/cli/dist/main.js]
// Loops `DOCKER_BUILDKIT=1 docker build --no-cache` of `FROM busybox` + RUN steps for --seconds, while
// the neighbour loops beside it: `wharf` (a direct build of RUN steps, --no-cache), `docker` (a second
// BuildKit build of another Dockerfile) or `none`. Counts BuildKit builds and failures by kind, and
// compares the host's mount table (this process's and dockerd's) and binfmt_misc before and after.
// Needs the test environment up (dockerd with the mirror on 127.0.0.1:5151, busybox pushed):
// `pnpm vitest run test/e2e/environment.test.ts` brings it up.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DOCKER, MIRROR, machine, run, tempDir, WHARF } from './lib.mjs';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '120' },
    neighbour: { type: 'string', default: 'wharf' },
    steps: { type: 'string', default: '4' },
    // the wharf neighbour's RUN --network (default: its own namespace with slirp4netns)
    network: { type: 'string', default: 'default' },
    // another checkout's CLI for the wharf neighbour (e.g. one before the fix)
    cli: { type: 'string', default: WHARF },
  },
});
const seconds = Number(values.seconds);
const steps = Number(values.steps);
const base = `${MIRROR.replace(/^https?:\/\//, '')}/library/busybox:latest`;

/** A Dockerfile whose RUN steps always run (--no-cache) and each write a file. */
const dockerfile = (tag, network = 'default') =>
  `FROM ${base}\n${Array.from({ length: steps }, (_, i) => `RUN ${network === 'default' ? '' : `--network=${network} `}echo ${tag}-${i} > /f${i} && ls /bin/sh\n`).join('')}`;

function context(name, network) {
  const dir = tempDir(`concurrent-${name}`);
  writeFileSync(join(dir, 'Dockerfile'), dockerfile(name, network));
  return dir;
}

const dockerdPid = () => {
  try {
    return readFileSync('/var/run/docker.pid', 'utf8').trim();
  } catch {
    return undefined;
  }
};

/** Mount points (mount id + point + fs type) of a process, dockerd's own BuildKit/overlay2 mounts left out. */
function mounts(pid) {
  try {
    return readFileSync(`/proc/${pid}/mountinfo`, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const f = l.split(' ');
        const dash = f.indexOf('-');
        return `${f[4]} ${f[dash + 1]} ${f[6].startsWith('shared') || f[6].startsWith('master') ? f[6] : ''}`.trim();
      })
      .filter((m) => !m.startsWith('/var/lib/docker/') && !m.startsWith('/run/docker/'))
      .sort();
  } catch {
    return [];
  }
}

function binfmt() {
  const dir = '/proc/sys/fs/binfmt_misc';
  try {
    return readdirSync(dir)
      .sort()
      .map((n) => `${n}: ${readFileSync(join(dir, n), 'utf8').replace(/\n/g, ' | ')}`);
  } catch {
    return [];
  }
}

const snapshot = () => ({ self: mounts('self'), dockerd: mounts(dockerdPid()), binfmt: binfmt() });

function diff(name, before, after) {
  const gone = before.filter((x) => !after.includes(x));
  const added = after.filter((x) => !before.includes(x));
  if (gone.length || added.length)
    console.log(`${name} changed: -${JSON.stringify(gone)} +${JSON.stringify(added)}`);
  return gone.length + added.length;
}

const deadline = Date.now() + seconds * 1000;
const counts = {
  buildkit: 0,
  buildkitFailed: 0,
  binSh: 0,
  neighbour: 0,
  neighbourFailed: 0,
  probeUnmounted: 0,
};
const failures = [];

async function buildkitLoop(name, isNeighbour) {
  const dir = context(name);
  while (Date.now() < deadline) {
    const r = await run(DOCKER, ['build', '--no-cache', '--progress=plain', '-q', dir], {
      env: { DOCKER_BUILDKIT: '1' },
      allowFail: true,
    });
    const key = isNeighbour ? 'neighbour' : 'buildkit';
    counts[key]++;
    if (r.code !== 0) {
      counts[`${key}Failed`]++;
      if (/stat \/bin\/sh: no such file or directory/.test(r.stderr)) counts.binSh++;
      failures.push(
        `${name}: ${r.stderr
          .split('\n')
          .filter((l) => /sh|rror|fail/.test(l))
          .slice(-4)
          .join(' / ')}`,
      );
    }
  }
}

// Each wharf build runs in a mount namespace of its own with propagation unchanged (its copies of the
// host's shared mounts stay peers of the host's, as if it ran in the host's), beside a probe made there:
// a tmpfs below a shared bind mount, like a container's rootfs below dockerd's /var/lib/docker. Only
// this build's processes see the probe's peer group, so a probe found unmounted after the build was
// unmounted by this build, not by another wharf on the machine.
const PROBE = `
dir=$1; shift
mount --bind "$dir" "$dir" && mount --make-shared "$dir" && mkdir "$dir/rootfs" && mount -t tmpfs tmpfs "$dir/rootfs" || exit 99
"$@"; code=$?
if mountpoint -q "$dir/rootfs"; then echo probe=mounted; else echo probe=unmounted; fi
umount -l "$dir/rootfs" 2>/dev/null; umount -l "$dir" # where / is shared (systemd) the host got them too
exit $code
`;

async function wharfLoop() {
  const dir = context('wharf', values.network);
  const cacheDir = join(tempDir('concurrent-wharf-cache'), 'cache');
  const args = ['build', '-f', join(dir, 'Dockerfile'), dir, '--no-cache', '--progress', 'quiet'];
  while (Date.now() < deadline) {
    const probe = [
      '--mount',
      '--propagation',
      'unchanged',
      '--',
      'sh',
      '-c',
      PROBE,
      'sh',
      tempDir('concurrent-probe'),
    ];
    const r = await run(
      'unshare',
      [...probe, process.execPath, values.cli, ...args, '--cache-dir', cacheDir],
      {
        allowFail: true,
      },
    );
    counts.neighbour++;
    if (r.stdout.includes('probe=unmounted')) counts.probeUnmounted++;
    if (r.code !== 0) {
      counts.neighbourFailed++;
      failures.push(`wharf: ${r.stderr.split('\n').filter(Boolean).slice(-3).join(' / ')}`);
    }
  }
}

/** Parent pid of `pid`, or 0. */
const parentOf = (pid) => {
  try {
    return Number(
      readFileSync(`/proc/${pid}/stat`, 'utf8')
        .replace(/^.*\) /s, '')
        .split(' ')[1],
    );
  } catch {
    return 0;
  }
};

// Other wharf builds on the machine (other checkouts, other test runs) start slirp4netns too: counted,
// so a failure with foreign ones around is not charged to this checkout.
const foreignSlirps = new Set();
const watch = setInterval(() => {
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    let comm = '';
    try {
      comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    if (comm !== 'slirp4netns') continue;
    let up = Number(pid);
    while (up > 1 && up !== process.pid) up = parentOf(up);
    if (up !== process.pid) foreignSlirps.add(pid);
  }
}, 100);

const before = snapshot();
const neighbour =
  values.neighbour === 'wharf'
    ? wharfLoop()
    : values.neighbour === 'docker'
      ? buildkitLoop('other', true)
      : undefined;
await Promise.all([buildkitLoop('buildkit', false), neighbour]);
clearInterval(watch);
const after = snapshot();
const changed =
  diff('this process’s mounts', before.self, after.self) +
  diff('dockerd’s mounts', before.dockerd, after.dockerd) +
  diff('binfmt_misc', before.binfmt, after.binfmt);
for (const f of failures.slice(0, 10)) console.log(`failure: ${f}`);
console.log(
  JSON.stringify({
    with: values.neighbour,
    seconds,
    steps,
    ...counts,
    foreignSlirp4netns: foreignSlirps.size,
    hostChanges: changed,
    machine: machine(),
  }),
);
