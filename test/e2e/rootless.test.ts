// RUN without root, three ways, each giving the image a root build gives, byte for byte:
// - the user has subordinate ids (/etc/subuid, /etc/subgid, newuidmap): wharf re-executes itself in a
//   user namespace mapping them, where it is root (layers keep owners, any USER in the range works);
// - WHARF_USERNS=off: only root is mapped; overlays are mounted in a namespace of wharf's own;
// - WHARF_USERNS=off WHARF_SNAPSHOTTER=copy: copied snapshots, runc rootless.
// The test creates the user and its ranges, so the suite runs as root (CI does; RUN needs it anyway).
import { spawnSync } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  cpSync,
  existsSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type CliResult, wharfAsync } from '../helpers/cli.js';
import { noDocker, testEnv } from '../helpers/env.js';
import { repoRoot, tempDir } from '../helpers/paths.js';

const USER = 'wharf-rootless';

/** Creates the unprivileged user once (idempotent). */
function ensureUser(): void {
  if (spawnSync('id', [USER]).status === 0) return;
  const made = spawnSync('useradd', ['--system', '--create-home', '--shell', '/usr/sbin/nologin', USER], {
    encoding: 'utf8',
  });
  if (made.status !== 0 && spawnSync('id', [USER]).status !== 0) {
    throw new Error(`useradd ${USER} failed: ${made.stderr}`);
  }
}

/** Gives the user 65536 subordinate uids and gids after every range there is (idempotent). */
function ensureSubordinateIds(): void {
  expect(existsSync('/usr/bin/newuidmap'), 'newuidmap (uidmap) comes with scripts/test-env.sh').toBe(true);
  for (const file of ['/etc/subuid', '/etc/subgid']) {
    const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
    if (text.split('\n').some((line) => line.startsWith(`${USER}:`))) continue;
    const ends = text
      .split('\n')
      .map((line) => line.split(':'))
      .filter((parts) => parts.length === 3)
      .map(([, start, count]) => Number(start) + Number(count));
    appendFileSync(file, `${USER}:${Math.max(100000, ...ends)}:65536\n`);
  }
}

/** `wharf build …` as the unprivileged user, with its own HOME and no root runtime dirs in the env. */
function wharfAsUser(args: readonly string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  // undefined drops the variable from the child's env (spawn skips undefined values)
  const env: NodeJS.ProcessEnv = {
    HOME: `/home/${USER}`,
    USER,
    LOGNAME: USER,
    XDG_RUNTIME_DIR: undefined,
    XDG_CACHE_HOME: undefined,
    ...extraEnv,
  };
  return wharfAsync(args, { env, wrapper: ['runuser', '-u', USER, '--'] });
}

/** A build.ts in a fresh folder both root and the user can use (the user writes its caches there). */
function definitionFolder(source: string): { dir: string; definition: string } {
  ensureUser();
  ensureSubordinateIds();
  const dir = tempDir('wharf-rootless-');
  chmodSync(dir, 0o777);
  const definition = join(dir, 'build.ts');
  writeFileSync(definition, source);
  chmodSync(definition, 0o644);
  return { dir, definition };
}

/** `build DEFINITION` to an oci-archive at `out`, with the test mirror and a cache dir in `dir`. */
function buildArgs(definition: string, dir: string, cache: string, out: string): string[] {
  const mirror = ['--registry-mirror', testEnv().mirror.url];
  return [
    'build',
    definition,
    ...mirror,
    '--progress',
    'quiet',
    '--cache-dir',
    join(dir, cache),
    '-o',
    `type=oci-archive,dest=${out}`,
  ];
}

describe.skipIf(noDocker())('wharf build as an unprivileged user', () => {
  it('runs RUN steps rootless and gives the digest a root build gives', async () => {
    expect(process.getuid?.(), 'this test creates a user: run the suite as root').toBe(0);
    const { dir, definition } = definitionFolder(
      [
        "import { stage } from '@wharf/core';",
        "export default stage('app').from('busybox').workdir('/app')",
        "  .run('echo hi > hello && mkdir -p d/e /opt/x/y && chmod 0750 d && ln -s hello link && ln hello hard')",
        // a deleted file, a deleted directory, one deleted and made again (opaque), a renamed one
        "  .run('rm -rf d/e && rm /etc/group && touch /etc/new && rm -rf /opt/x && mkdir /opt/x && mv d d2')",
        "  .cmd(['cat', '/app/hello']);",
        '',
      ].join('\n'),
    );
    const kindOf = (cache: string) => readFileSync(join(dir, cache, 'snapshots', 'kind'), 'utf8').trim();
    // with subordinate ids: root of a namespace of its own, overlays with user xattrs
    const subIds = await wharfAsUser(buildArgs(definition, dir, 'cache-subids', join(dir, 'subids.tar')));
    expect(subIds.stderr, subIds.stderr).toBe('');
    expect(kindOf('cache-subids')).toBe('owners=kept xattrs=user');
    // only root mapped: the RUN layers were kept as extracted layers, nothing was flattened and copied
    const off = { WHARF_USERNS: 'off' };
    const asUser = await wharfAsUser(buildArgs(definition, dir, 'cache-user', join(dir, 'user.tar')), off);
    expect(asUser.stderr, asUser.stderr).toBe('');
    expect(asUser.code).toBe(0);
    expect(kindOf('cache-user')).toBe('owners=caller xattrs=user');
    const snapshots = join(dir, 'cache-user', 'snapshots');
    expect(readdirSync(join(snapshots, 'layers')).length).toBeGreaterThanOrEqual(3);
    expect(readdirSync(join(snapshots, 'chains'))).toEqual([]);
    const copied = await wharfAsUser(buildArgs(definition, dir, 'cache-copy', join(dir, 'copy.tar')), {
      ...off,
      WHARF_SNAPSHOTTER: 'copy',
    });
    expect(copied.stderr, copied.stderr).toBe('');
    expect(readdirSync(join(dir, 'cache-copy', 'snapshots', 'chains')).length).toBeGreaterThanOrEqual(2);
    const asRoot = await wharfAsync(buildArgs(definition, dir, 'cache-root', join(dir, 'root.tar')));
    expect(asRoot.code).toBe(0);
    expect(asUser.stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(asUser.stdout.trim()).toBe(asRoot.stdout.trim());
    expect(copied.stdout.trim()).toBe(asRoot.stdout.trim());
    expect(subIds.stdout.trim()).toBe(asRoot.stdout.trim());
  });

  it('builds examples/node-app (cache mounts, three stages, COPY --chown) as a root build does', async () => {
    const { dir } = definitionFolder('');
    cpSync(join(repoRoot, 'examples/node-app/app'), join(dir, 'app'), { recursive: true });
    cpSync(join(repoRoot, 'examples/node-app/build.ts'), join(dir, 'build.ts'));
    spawnSync('chmod', ['-R', 'a+rwX', dir]);
    const args = (cache: string, out: string) => [
      'build',
      join(dir, 'build.ts'),
      '--registry-mirror',
      testEnv().mirror.url,
      '--progress',
      'quiet',
      '--cache-dir',
      join(dir, cache),
      '-o',
      `type=docker-archive,dest=${join(dir, out)}`,
    ];
    const asUser = await wharfAsUser(args('cache-user', 'user.tar'));
    expect(asUser.stderr, asUser.stderr).toBe('');
    expect(asUser.code).toBe(0);
    const asRoot = await wharfAsync(args('cache-root', 'root.tar'));
    expect(asRoot.code, asRoot.stderr).toBe(0);
    expect(asUser.stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/); // the image ID
    expect(asUser.stdout.trim()).toBe(asRoot.stdout.trim());
  });

  it('bind mounts (context, another stage, read-write) work rootless and stay inside their trees', async () => {
    // A marker the user can read on the host: only resolution inside the tree keeps it out.
    const host = tempDir('wharf-marker-');
    chmodSync(host, 0o755);
    const markerText = `rootless-marker-${process.pid}-${Date.now()}`;
    writeFileSync(join(host, 'secret'), `${markerText}\n`, { mode: 0o644 });
    const source = (mount: string) =>
      [
        "import { bind, stage } from '@wharf/core';",
        `const a = stage('a').from('busybox').run('mkdir /d && echo in-a > /d/f && ln -s ${host}/secret /link');`,
        `export default stage('app').from('busybox').run('cat /m/f > /out; cat /ctx/ctx-file >> /out; echo x > /rw/new; ls /rw >> /out', { mounts: [${mount}] });`,
        '',
      ].join('\n');
    const good =
      "bind('/m', { from: a, source: '/d' }), bind('/ctx', { source: 'hostroot' }), bind('/rw', { source: 'sub', readwrite: true })";
    const { dir, definition } = definitionFolder(source(good));
    writeFileSync(join(dir, 'ctx-file'), 'in context\n', { mode: 0o644 });
    // the caches and outputs live in the folder too: keep them out of the bound context
    writeFileSync(join(dir, '.dockerignore'), 'cache-*\n*.tar\n', { mode: 0o644 });
    spawnSync('ln', ['-s', '/', join(dir, 'hostroot')]);
    spawnSync('mkdir', ['-m', '755', join(dir, 'sub')]);
    writeFileSync(join(dir, 'sub', 'kept'), 'k\n', { mode: 0o644 });
    const off = { WHARF_USERNS: 'off' };
    const asUser = await wharfAsUser(buildArgs(definition, dir, 'cache-user', join(dir, 'user.tar')), off);
    expect(asUser.stderr, asUser.stderr).toBe('');
    const subIds = await wharfAsUser(buildArgs(definition, dir, 'cache-subids', join(dir, 'subids.tar')));
    expect(subIds.stderr, subIds.stderr).toBe('');
    const asRoot = await wharfAsync(buildArgs(definition, dir, 'cache-root', join(dir, 'root.tar')));
    expect(asRoot.code, asRoot.stderr).toBe(0);
    expect(asUser.stdout.trim()).toBe(asRoot.stdout.trim());
    expect(subIds.stdout.trim()).toBe(asRoot.stdout.trim());
    // the writes through the read-write bind were discarded
    expect(readdirSync(join(dir, 'sub'))).toEqual(['kept']);

    writeFileSync(definition, source("bind('/m', { from: a, source: '/link' })"));
    const attack = await wharfAsUser(buildArgs(definition, dir, 'cache-user', join(dir, 'attack.tar')), off);
    expect(attack.code).toBe(1);
    expect(attack.stderr).toContain(`source "${host}/secret" (from "/link") not found in stage a`);
    expect(`${attack.stdout}${attack.stderr}`).not.toContain(markerText);
  });

  it('with subordinate ids, RUN under a non-root USER works and the cache prunes clean', async () => {
    const { dir, definition } = definitionFolder(
      [
        "import { stage } from '@wharf/core';",
        "export default stage('app').from('node:20-alpine').workdir('/home/node')",
        "  .user('node')",
        "  .run('id > id.txt && mkdir -p d && echo hi > d/f && chmod 600 d/f && chmod 700 d')",
        "  .cmd(['cat', '/home/node/id.txt']);",
        '',
      ].join('\n'),
    );
    const asUser = await wharfAsUser(buildArgs(definition, dir, 'cache-user', join(dir, 'user.tar')));
    expect(asUser.stderr, asUser.stderr).toBe('');
    expect(asUser.code).toBe(0);
    const asRoot = await wharfAsync(buildArgs(definition, dir, 'cache-root', join(dir, 'root.tar')));
    expect(asRoot.code, asRoot.stderr).toBe(0);
    expect(asUser.stdout.trim()).toBe(asRoot.stdout.trim());
    // the output is the caller's; the cache holds files the subordinate ids own until pruned
    expect(spawnSync('stat', ['-c', '%U', join(dir, 'user.tar')], { encoding: 'utf8' }).stdout.trim()).toBe(
      USER,
    );
    const foreign = () =>
      spawnSync('find', [join(dir, 'cache-user'), '-not', '-user', USER], { encoding: 'utf8' }).stdout.trim();
    expect(foreign()).not.toBe('');
    const pruned = await wharfAsUser(['cache', 'prune', '--all', '--cache-dir', join(dir, 'cache-user')]);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(foreign()).toBe('');
  });

  it('refuses a RUN under a non-root USER when only root is mapped, naming the fixes', async () => {
    const { dir, definition } = definitionFolder(
      "import { stage } from '@wharf/core';\nexport default stage('app').from('busybox').user('app').run('id');\n",
    );
    const out = join(dir, 'out.tar');
    const result = await wharfAsUser(buildArgs(definition, dir, 'cache', out), { WHARF_USERNS: 'off' });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/USER app .*cannot run rootless/);
    expect(result.stderr).toMatch(
      /give your user subordinate ids .*, run wharf as root, or build with --backend docker/,
    );
    expect(existsSync(out)).toBe(false);
  });
});
