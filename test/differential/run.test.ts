// RUN: on `FROM busybox` (BuildKit through dockerd's mirror, the direct backend through the same mirror
// with its registry client), the files RUN steps create, change and delete — and what their mounts,
// users, shells and environments leave behind — match BuildKit's, as do the image configs; with overlay
// snapshots and with the copy fallback.
import { createHash, randomUUID } from 'node:crypto';
import { bind, cache, define, type Stage, secret, sh, stage, tmpfs, toGraph } from '@wharf/core';
import { describe, expect, it } from 'vitest';
import { type BothResults, type BuildBoth, buildBoth, trees } from '../helpers/differential.js';
import { noDocker, testEnv } from '../helpers/env.js';
import { useSnapshotter } from '../helpers/snapshotter.js';

const files = {
  'a.txt': 'alpha\n',
  'src/main.txt': 'main\n',
  'src/lib/util.txt': 'util\n',
};

/**
 * `/proc`, `/dev` and `/sys`: runc creates them in a base that lacks them (the busybox look-alike does),
 * and BuildKit keeps them in the RUN layer as empty directories (moby/buildkit#3455, #6686). Checked on
 * their own in the "mount points" test below; left out of the other comparisons so each test shows its
 * own feature.
 */
const RUNTIME_MOUNT_POINTS = ['/proc', '/dev', '/sys'];

interface CompareOptions extends Partial<Omit<BuildBoth, 'name' | 'graph'>> {
  /** Compare `/proc`, `/dev`, `/sys` too (default: left out, see RUNTIME_MOUNT_POINTS). */
  readonly runtimeMountPoints?: boolean;
}

/** Builds `target` with both builders (bases from the loopback mirror); the trees and configs must match. */
async function compare(
  name: string,
  target: Stage,
  { runtimeMountPoints = false, ...extra }: CompareOptions = {},
): Promise<BothResults & { lines: string[] }> {
  const results = await buildBoth({
    name,
    graph: toGraph(define({ target })),
    files,
    registry: { mirrors: [testEnv().mirror.url] },
    ...extra,
  });
  const skipped = runtimeMountPoints ? [] : RUNTIME_MOUNT_POINTS;
  const kept = (line: string) => !skipped.some((p) => line === `${p} dir 755 0:0`);
  const all = trees(results);
  const buildkit = all.buildkit.filter(kept);
  const direct = all.direct.filter(kept);
  if (process.env.WHARF_DEBUG_TREES) console.log(`${name}:\n${all.buildkit.join('\n')}`);
  expect(direct).toEqual(buildkit);
  expect(results.direct.config).toEqual(results.buildkit.config);
  return { ...results, lines: direct };
}

/** The content of a file in the direct image, by its sha256 (the tree keeps digests, not bytes). */
const sha = (text: string) => createHash('sha256').update(text).digest('hex');

describe.skipIf(noDocker())('RUN matches BuildKit', () => {
  // Every case twice: overlay snapshots (the upper dir is the change set) and the copy fallback
  // (a stat-based scan), which must give the same layers.
  describe.each(['overlay', 'copy'] as const)('with %s snapshots', (mode) => {
    useSnapshotter(mode);

    it('creates, modifies and deletes files; deletes and recreates a directory; chmod; symlinks; hardlinks', async () => {
      const target = stage('run-files')
        .from('busybox')
        .run(
          'mkdir -p /data/keep /data/gone/sub /data/opaque/old /data/links && echo one > /data/keep/a && echo two > /data/gone/sub/b && echo old > /data/opaque/old/x && echo y > /data/opaque/y',
        )
        .run(`
          echo changed >> /data/keep/a
          echo new > /data/keep/new
          rm -r /data/gone
          rm /bin/vi /etc/group
          echo 'root:x:0:' > /etc/group
          echo 'extra:x:2000:' >> /etc/group
        `)
        .run('rm -rf /data/opaque && mkdir /data/opaque && echo fresh > /data/opaque/z')
        .run(
          'chmod 640 /data/keep/a && chmod 700 /home/app && mkdir -m 1777 /data/sticky && chmod 4755 /data/keep/new',
        )
        .run(
          'ln -s /data/keep/a /data/links/absolute && ln -s ../keep/new /data/links/relative && ln -s nowhere /data/links/dangling && ln -sf /bin/busybox /bin/vi',
        )
        .run('ln /data/keep/new /data/keep/hard && ln /data/opaque/z /data/links/hard-z');
      const { lines, direct } = await compare('run-files', target);
      expect(lines).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^\/data\/opaque\/z (file|hardlink) 644 /),
          expect.stringMatching(/^\/data\/keep\/new (file|hardlink) 4755 0:0/),
          expect.stringMatching(/^\/data\/sticky dir 1777 0:0/),
          expect.stringMatching(/^\/home\/app dir 700 1000:1000/),
          expect.stringMatching(/^\/data\/links\/relative symlink 777 0:0 -> \.\.\/keep\/new/),
        ]),
      );
      expect(lines.some((l) => l.startsWith('/data/gone'))).toBe(false);
      expect(lines.some((l) => l.startsWith('/data/opaque/old') || l.startsWith('/data/opaque/y'))).toBe(
        false,
      );
      expect(direct.tree.get('/data/keep/a')?.sha256).toBe(sha('one\nchanged\n'));
      expect(direct.tree.get('/etc/group')?.sha256).toBe(sha('root:x:0:\nextra:x:2000:\n'));
    });

    it('appending to a file hard-linked in an earlier layer changes that name only (overlay copy-up breaks the link)', async () => {
      const target = stage('run-hardlink-append')
        .from('busybox')
        .run('mkdir /h && echo one > /h/a && ln /h/a /h/b && ln /h/a /h/c')
        .run('echo two >> /h/a && chmod 600 /h/c && cat /h/b > /h/b-seen');
      const { direct } = await compare('run-hardlink-append', target);
      const content = (path: string) => direct.tree.get(path)?.sha256;
      expect(content('/h/a')).toBe(sha('one\ntwo\n'));
      // /h/b is still the earlier layer's file (the tree names it as that layer's hard link)
      expect(content('/h/b-seen')).toBe(sha('one\n'));
      expect(direct.tree.get('/h/c')).toMatchObject({ mode: '600', sha256: sha('one\n') });
    });

    it('USER before RUN owns what it creates; WORKDIR is created, and RUN runs in it', async () => {
      const target = stage('run-user')
        .from('busybox')
        .user('app')
        .workdir('/home/app/work')
        .run('echo hi > made-by-app && mkdir sub && id > id.txt && pwd > where.txt')
        .user('root')
        .workdir('/srv/new/deep')
        .run('touch root-file && pwd > where.txt && id -u > uid.txt')
        .user('1000:1000')
        .run('touch /tmp/by-number && id > /tmp/id-by-number');
      const { direct } = await compare('run-user', target);
      expect(direct.tree.get('/home/app/work/made-by-app')).toMatchObject({ uid: 1000, gid: 1000 });
      expect(direct.tree.get('/home/app/work/where.txt')?.sha256).toBe(sha('/home/app/work\n'));
      expect(direct.tree.get('/srv/new/deep/root-file')).toMatchObject({ uid: 0, gid: 0 });
      expect(direct.tree.get('/tmp/by-number')).toMatchObject({ uid: 1000, gid: 1000 });
    });

    it('cache, bind (context and another stage, read-only) and tmpfs mounts stay out of the image', async () => {
      // A fresh cache id: dockerd's BuildKit keeps cache mounts between runs of this suite.
      const id = `wharf-run-test-${randomUUID()}`;
      const other = stage('other').from('busybox').run('mkdir /out && echo from-other > /out/file');
      const target = stage('run-mounts')
        .from('busybox')
        .run('echo cached > /cache/c && ls /cache > /listed-cache', { mounts: [cache('/cache', { id })] })
        .run('cat /var/cache/thing/c > /cache-again', { mounts: [cache('/var/cache/thing', { id })] })
        .run('cp /ctx/a.txt /from-context.txt && ls -R /ctx > /ctx-listing', { mounts: [bind('/ctx')] })
        .run('(touch /ctx/w 2>/dev/null && echo writable || echo read-only) > /ctx-mode', {
          mounts: [bind('/ctx', { source: 'src' })],
        })
        .run(
          'cat /other/file > /from-other.txt && (touch /other/w 2>/dev/null && echo writable || echo read-only) > /other-mode',
          { mounts: [bind('/other', { from: other, source: '/out' })] },
        )
        .run('echo t > /scratch/t && cat /scratch/t > /tmpfs-read && mkdir /scratch/d', {
          mounts: [tmpfs('/scratch')],
        })
        .run('echo again > /var/cache/thing/again', { mounts: [cache('/var/cache/thing', { id })] });
      const { lines, direct } = await compare('run-mounts', target);
      // the mount points the steps needed stay as empty directories (BuildKit 20.10's runc executor)
      for (const dir of ['/cache', '/var/cache', '/var/cache/thing', '/ctx', '/other', '/scratch'])
        expect(lines).toContain(`${dir} dir 755 0:0`);
      const content = (path: string) => direct.tree.get(path)?.sha256;
      expect(content('/from-context.txt')).toBe(sha('alpha\n'));
      expect(content('/ctx-mode')).toBe(sha('read-only\n'));
      expect(content('/other-mode')).toBe(sha('read-only\n'));
      expect(content('/from-other.txt')).toBe(sha('from-other\n'));
      expect(content('/cache-again')).toBe(sha('cached\n'));
      expect(content('/tmpfs-read')).toBe(sha('t\n'));
      // Nothing written inside a mount reaches the image.
      for (const gone of ['/cache/c', '/var/cache/thing/c', '/var/cache/thing/again', '/scratch/t', '/ctx/w'])
        expect(lines.some((l) => l.startsWith(`${gone} `))).toBe(false);
    });

    it('ARG (with a build arg) and ENV are in the RUN environment; SHELL changes shell-form RUN; exec form', async () => {
      const target = stage('run-env')
        .from('busybox')
        .arg('GREETING', 'hello')
        .arg('FROM_CLI')
        .arg('UNSET')
        .env({ APP_MODE: 'prod', APP_HOME: '/srv/app' })
        .run('echo "$GREETING $FROM_CLI $APP_MODE ${UNSET:-unset}" > /env.txt')
        .run('env | grep -E "^(GREETING|FROM_CLI|APP_MODE|APP_HOME|UNSET)=" | sort > /env-list')
        .run(['/bin/mkdir', '-p', '/exec/dir'])
        .run(['/bin/sh', '-c', 'echo "exec $APP_MODE $GREETING" > /exec/env.txt'])
        .shell(['/usr/bin/env', 'SHELL_MARK=custom', '/bin/sh', '-c'])
        .run('echo "$SHELL_MARK" > /shell.txt')
        .run(['/bin/sh', '-c', 'echo "${SHELL_MARK:-none}" > /exec/shell.txt'])
        .cmd(sh('echo "$APP_MODE"'));
      const { direct } = await compare('run-env', target, { buildArgs: { FROM_CLI: 'from-the-cli' } });
      const content = (path: string) => direct.tree.get(path)?.sha256;
      expect(content('/env.txt')).toBe(sha('hello from-the-cli prod unset\n'));
      expect(content('/env-list')).toBe(
        sha('APP_HOME=/srv/app\nAPP_MODE=prod\nFROM_CLI=from-the-cli\nGREETING=hello\n'),
      );
      expect(content('/exec/env.txt')).toBe(sha('exec prod hello\n'));
      expect(content('/shell.txt')).toBe(sha('custom\n'));
      expect(content('/exec/shell.txt')).toBe(sha('none\n'));
    });

    it('multi-stage: COPY --from copies what a RUN in another stage made', async () => {
      const builder = stage('builder')
        .from('busybox')
        .workdir('/src')
        .run(
          "echo built > artifact && mkdir -p out/bin && printf '#!/bin/sh\\necho tool\\n' > out/bin/tool && chmod 755 out/bin/tool && ln -s tool out/bin/alias && chown -R 1000:1000 out",
        );
      const target = stage('final')
        .from('busybox')
        .copy(builder, '/src/artifact', '/opt/artifact')
        .copy(builder, '/src/out', '/opt/out')
        .run('/opt/out/bin/alias > /opt/ran.txt');
      const { direct } = await compare('run-multistage', target);
      expect(direct.tree.get('/opt/ran.txt')?.sha256).toBe(sha('tool\n'));
      // COPY --from without --chown keeps the owners the RUN gave (BuildKit does the same).
      expect(direct.tree.get('/opt/out/bin/tool')).toMatchObject({ mode: '755', uid: 1000, gid: 1000 });
    });

    it('secret mounts: readable during the step, never in the image', async () => {
      const token = `s3cr3t-${randomUUID()}\n`;
      const apiKey = 'api-key-value';
      const target = stage('run-secret')
        .from('busybox')
        .run('wc -c < /run/secrets/token > /token-size && cp /run/secrets/token /tmp/copy && rm /tmp/copy', {
          mounts: [secret('token')],
        })
        .run('cut -c1-3 /etc/api-key > /api-prefix && ls -l /etc/api-key | cut -c1-10 > /api-mode', {
          mounts: [secret('api', { target: '/etc/api-key', required: true, mode: '0440' })],
        });
      const { lines, direct } = await compare('run-secret', target, { secrets: { token, api: apiKey } });
      const contents = [...direct.tree.values()].map((e) => e.sha256);
      expect(contents).not.toContain(sha(token));
      expect(contents).not.toContain(sha(apiKey));
      expect(direct.tree.get('/token-size')?.sha256).toBe(sha(`${token.length}\n`));
      expect(direct.tree.get('/api-prefix')?.sha256).toBe(sha('api\n'));
      expect(lines.some((l) => l.startsWith('/run/secrets/token '))).toBe(false);
      expect(lines.some((l) => l.startsWith('/etc/api-key '))).toBe(false);
      // the secret's parents were made for it and stay; the file stub does not
      expect(lines).toEqual(expect.arrayContaining(['/run dir 755 0:0', '/run/secrets dir 755 0:0']));
    });

    it('mount targets missing from the image: directories made for them stay empty in the layer, file stubs and nested points do not', async () => {
      const id = `wharf-run-points-${randomUUID()}`;
      const target = stage('run-new-points')
        .from('busybox')
        .workdir('/w')
        .run('ls /new/cache/dir /new/cache/dir/nested > /dev/null && cat /files/deep/a.txt > /seen-a', {
          mounts: [
            cache('/new/cache/dir', { id }),
            tmpfs('/new/cache/dir/nested'),
            bind('/files/deep/a.txt', { source: 'a.txt' }),
          ],
        })
        .run('cat /opt/sec/token > /dev/null && ls rel > /dev/null && ls /home/app > /home-listed', {
          mounts: [secret('tok', { target: '/opt/sec/token' }), tmpfs('rel'), tmpfs('/home/app')],
        })
        .run('ls -A /new/cache/dir /files/deep /opt/sec /w/rel > /listing');
      const { lines, direct } = await compare('run-new-points', target, { secrets: { tok: 'value\n' } });
      for (const dir of [
        '/new',
        '/new/cache',
        '/new/cache/dir',
        '/files',
        '/files/deep',
        '/opt/sec',
        '/w/rel',
      ])
        expect(lines).toContain(`${dir} dir 755 0:0`);
      for (const gone of ['/new/cache/dir/nested', '/files/deep/a.txt', '/opt/sec/token'])
        expect(direct.tree.has(gone)).toBe(false);
      expect(direct.tree.get('/seen-a')?.sha256).toBe(sha('alpha\n'));
    });

    it('mount points: a base without /proc, /dev, /sys gets them as empty directories, as with BuildKit', async () => {
      const target = stage('run-mount-points').from('busybox').run('true');
      const { lines } = await compare('run-mount-points', target, { runtimeMountPoints: true });
      for (const dir of RUNTIME_MOUNT_POINTS) expect(lines).toContain(`${dir} dir 755 0:0`);
    });
  });
});
