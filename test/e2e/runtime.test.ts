// runtime/: RUN steps without a daemon, against the busybox look-alike (`docker save` gives its layers)
// and the real runc. Needs root (overlayfs, runc); CI runs as root with runc installed.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { layerFromStore } from '../../packages/core/src/image/partial.js';
import { MemoryFsView } from '../../packages/core/src/layer/fs-view.js';
import { writeLayer } from '../../packages/core/src/layer/layer-writer.js';
import type { Digest } from '../../packages/core/src/oci/index.js';
import {
  applyChangeSet,
  findRuntime,
  type RunStepOptions,
  type RunStepResult,
  RuntimeError,
  runStep,
  type SnapshotLayer,
  Snapshotter,
} from '../../packages/core/src/runtime/index.js';
import { defaultStateRoot } from '../../packages/core/src/runtime/run.js';
import { type BlobStore, openStore } from '../../packages/core/src/store/index.js';
import { docker } from '../helpers/docker.js';
import { noDocker, testEnv } from '../helpers/env.js';
import { run } from '../helpers/exec.js';
import { tempDir } from '../helpers/paths.js';

const isRoot = process.getuid?.() === 0;

/** A layer tar on disk as the snapshotter sees layers. */
function fileLayer(path: string): SnapshotLayer {
  let diffId: Promise<Digest> | undefined;
  return {
    diffId: () => {
      diffId ??= (async () => {
        const hash = createHash('sha256');
        for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
        return `sha256:${hash.digest('hex')}` as Digest;
      })();
      return diffId;
    },
    uncompressed: async () => createReadStream(path),
  };
}

const ENV = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'];

describe.skipIf(noDocker() || !isRoot)('runtime: RUN steps with runc', () => {
  let work: string;
  let base: SnapshotLayer[];
  let overlay: Snapshotter;
  let store: BlobStore;
  const opened: RunStepResult[] = [];

  /** Runs `script` under /bin/sh -c on busybox (plus `extra` layers) and collects output lines. */
  async function sh(
    script: string,
    options: Partial<RunStepOptions> = {},
  ): Promise<RunStepResult & { lines: string[] }> {
    const lines: string[] = [];
    const result = await runStep({
      snapshotter: overlay,
      layers: base,
      command: ['/bin/sh', '-c', script],
      env: ENV,
      onOutput: (line) => lines.push(line),
      ...options,
    });
    opened.push(result);
    return Object.assign(result, { lines });
  }

  // The look-alike base has no /proc, /dev or /sys: a step creates them and, as with BuildKit, leaves
  // them as empty directories (pinned by the first test and by test/differential/run.test.ts). The
  // other tests look at what their command changed.
  const stub = (e: RunStepResult['entries'][number]) =>
    e.type === 'dir' && ['dev', 'proc', 'sys'].includes(e.path);
  const changed = (r: RunStepResult) => r.entries.filter((e) => !stub(e));
  const paths = (r: RunStepResult) => changed(r).map((e) => e.path);

  beforeAll(async () => {
    const env = testEnv();
    work = tempDir('wharf-runtime-');
    await docker(['pull', `${env.busybox.ref}`]);
    await docker(['save', '-o', join(work, 'busybox.tar'), env.busybox.ref]);
    await run('tar', ['-xf', join(work, 'busybox.tar'), '-C', work]);
    const manifest = JSON.parse(readFileSync(join(work, 'manifest.json'), 'utf8')) as { Layers: string[] }[];
    base = (manifest[0]?.Layers ?? []).map((p) => fileLayer(join(work, p)));
    overlay = await Snapshotter.open({ root: join(work, 'snapshots') });
    store = await openStore({ root: join(work, 'store') });
  });

  afterAll(async () => {
    for (const r of opened) await r.release().catch(() => {});
    rmSync(work, { recursive: true, force: true });
  });

  it('finds runc and uses overlayfs as root', async () => {
    const rt = await findRuntime();
    expect(rt.name).toMatch(/runc|crun/);
    expect(rt.version).not.toBe('unknown');
    expect(overlay.mode).toBe('overlay');
  });

  it('echo hi > /out.txt: one file, no runtime files, no copied-up /etc', async () => {
    const r = await sh('echo hi > /out.txt');
    expect(paths(r)).toEqual(['out.txt']);
    expect(r.entries.filter(stub).map((e) => `${e.path} ${e.mode.toString(8)} ${e.uid}:${e.gid}`)).toEqual([
      'dev 755 0:0',
      'proc 755 0:0',
      'sys 755 0:0',
    ]);
    const entry = changed(r)[0];
    expect(entry?.type).toBe('file');
    if (entry?.type === 'file' && entry.content.kind === 'path') {
      expect(readFileSync(entry.content.path, 'utf8')).toBe('hi\n');
      expect(entry.mode).toBe(0o644);
    }
  });

  it('rm /bin/ls: a whiteout', async () => {
    const r = await sh('rm /bin/ls');
    expect(r.deletions).toEqual(['bin/ls']);
    expect(paths(r)).toEqual(['bin', 'bin/.wh.ls']);
  });

  it('mkdir -p /a/b && touch /a/b/c: parents first', async () => {
    const r = await sh('mkdir -p /a/b && touch /a/b/c');
    expect(changed(r).map((e) => `${e.type}:${e.path}`)).toEqual(['dir:a', 'dir:a/b', 'file:a/b/c']);
  });

  it('rm -rf a directory and re-create it: opaque', async () => {
    const r = await sh('rm -rf /home && mkdir /home && touch /home/x');
    expect(r.opaque).toEqual(['home']);
    expect(paths(r)).toEqual(['home', 'home/.wh..wh..opq', 'home/x']);
    const view = new MemoryFsView();
    view.set('home/app/.profile', { type: 'file', mode: 0o644, uid: 1000, gid: 1000 });
    applyChangeSet(view, r);
    expect(view.list('home')).toEqual(['x']);
  });

  it('a failing command: RUN_FAILED with the exit code and the last lines', async () => {
    const error = await sh('echo to-stdout; echo to-stderr >&2; exit 3').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RuntimeError);
    const e = error as RuntimeError & { exitCode: number; lastLines: string[] };
    expect(e.code).toBe('RUN_FAILED');
    expect(e.exitCode).toBe(3);
    // stdout and stderr are separate pipes: their relative order is not kept
    expect([...e.lastLines].sort()).toEqual(['to-stderr', 'to-stdout']);
    expect(e.message).toContain('echo to-stdout');
    expect(e.message).toContain('exit code 3');
  });

  it('a missing program in exec form: RUNTIME_FAILED naming it', async () => {
    const error = await sh('', { command: ['/no/such/program'] }).catch((e: unknown) => e);
    expect((error as RuntimeError).code).toBe('RUNTIME_FAILED');
    expect((error as Error).message).toContain('/no/such/program');
  });

  it('env, USER name from /etc/passwd, and WORKDIR (created)', async () => {
    const r = await sh('echo "$(id -u):$(id -g):$(id -G):$(pwd):$FOO:$HOME"', {
      user: testEnv().busybox.user.name,
      cwd: '/srv/app',
      env: [...ENV, 'FOO=bar'],
    });
    const { uid, gid, home } = testEnv().busybox.user;
    expect(r.lines).toEqual([`${uid}:${gid}:${gid}:/srv/app:bar:${home}`]);
    expect(paths(r)).toEqual(['srv', 'srv/app']);
  });

  it('an unknown USER: RUN_UNKNOWN_USER', async () => {
    const error = await sh('true', { user: 'nosuchuser' }).catch((e: unknown) => e);
    expect((error as RuntimeError).code).toBe('RUN_UNKNOWN_USER');
  });

  it('a cache mount persists across runs and stays out of the layer', async () => {
    const mounts = [{ type: 'cache' as const, target: '/root/.cache/x', id: 'counter' }];
    await sh('echo run >> /root/.cache/x/count', { mounts });
    const second = await sh('echo run >> /root/.cache/x/count; cat /root/.cache/x/count', { mounts });
    expect(second.lines).toEqual(['run', 'run']);
    // the mount point made for it stays, empty (BuildKit 20.10); nothing written in the cache does
    expect(paths(second)).toEqual(['root', 'root/.cache', 'root/.cache/x']);
  });

  it('cache sharing=locked serialises two steps', async () => {
    const mounts = [{ type: 'cache' as const, target: '/c', id: 'locked', sharing: 'locked' as const }];
    const script = 'echo start >> /c/log; sleep 0.3; echo end >> /c/log';
    await Promise.all([sh(script, { mounts }), sh(script, { mounts })]);
    const r = await sh('cat /c/log', { mounts });
    expect(r.lines).toEqual(['start', 'end', 'start', 'end']);
  });

  it('a secret is there during the step, 0400, and absent from the change set', async () => {
    const r = await sh('cat /run/secrets/token; echo; stat -c %a /run/secrets/token; echo "$TOKEN_ENV"', {
      mounts: [
        { type: 'secret', id: 'token' },
        { type: 'secret', id: 'token', env: 'TOKEN_ENV' },
      ],
      secrets: { token: { value: 's3cr3t' } },
    });
    expect(r.lines).toEqual(['s3cr3t', '400', 's3cr3t']);
    // the parents made for the secret stay (BuildKit 20.10), the file stub does not
    expect(paths(r)).toEqual(['run', 'run/secrets']);
    const missing = await sh('true', { mounts: [{ type: 'secret', id: 'nope', required: true }] }).catch(
      (e: unknown) => e,
    );
    expect((missing as RuntimeError).code).toBe('RUN_SECRET_MISSING');
  });

  it('--network=none: only lo, and it is up', async () => {
    const r = await sh('ls /sys/class/net; ping -c1 -W1 127.0.0.1 >/dev/null && echo lo-ok', {
      network: 'none',
    });
    expect(r.lines).toEqual(['lo', 'lo-ok']);
    const host = await sh('ls /sys/class/net | wc -l', { network: 'default' });
    expect(Number(host.lines[0])).toBeGreaterThanOrEqual(1);
  });

  it('resolv.conf, hosts and hostname are provided but not committed', async () => {
    const r = await sh(
      'cat /etc/hosts | head -1; hostname; test -f /etc/resolv.conf && echo resolv; touch /etc/new',
    );
    expect(r.lines).toEqual(['127.0.0.1\tlocalhost buildkitsandbox', 'buildkitsandbox', 'resolv']);
    expect(paths(r)).toEqual(['etc', 'etc/new']);
  });

  it('bind (read-only, and rw with discarded writes) and tmpfs mounts', async () => {
    const ctx = tempDir('wharf-ctx-');
    writeFileSync(join(ctx, 'file'), 'from-context\n');
    const r = await sh(
      'cat /ctx/file; touch /ctx/new 2>/dev/null || echo ro; echo x > /rw/new && echo rw; echo t > /tmpfs/t && echo tmp',
      {
        mounts: [
          { type: 'bind', target: '/ctx', source: ctx },
          { type: 'bind', target: '/rw', source: ctx, readwrite: true },
          { type: 'tmpfs', target: '/tmpfs', size: 1 << 20 },
        ],
      },
    );
    expect(r.lines).toEqual(['from-context', 'ro', 'rw', 'tmp']);
    expect(existsSync(join(ctx, 'new'))).toBe(false);
    expect(paths(r)).toEqual(['ctx', 'rw', 'tmpfs']); // empty mount points, as BuildKit 20.10 leaves them
  });

  it('abort and timeout kill the container', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const t0 = Date.now();
    const aborted = await sh('sleep 30', { signal: controller.signal }).catch((e: unknown) => e);
    expect((aborted as RuntimeError).code).toBe('RUN_ABORTED');
    const timedOut = await sh('sleep 30', { timeoutMs: 300 }).catch((e: unknown) => e);
    expect((timedOut as RuntimeError).code).toBe('RUN_TIMEOUT');
    expect(Date.now() - t0).toBeLessThan(10_000);
    // killed, failed or finished: no container of this process is left in the runtime's state
    await sh('exit 3').catch(() => {});
    await (await sh('true')).release();
    const mine = `wharf-${process.pid}-`;
    expect(readdirSync(defaultStateRoot()).filter((id) => id.startsWith(mine))).toEqual([]);
  });

  it('commit: the next RUN stacks on the snapshot; a trivial warm RUN takes well under 1 s', async () => {
    const first = await sh('echo a > /a.txt; rm /bin/ls');
    const info = await writeLayer(store, first.entries, { mtime: 0 });
    await first.commitSnapshot(info.diffId);
    const layers = [...base, layerFromStore(store, { ...info })];
    const second = await sh('cat /a.txt; test -e /bin/ls || echo no-ls', { layers });
    expect(second.lines).toEqual(['a', 'no-ls']);

    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const r = await sh('true', { layers });
      times.push(performance.now() - t0);
      await r.release();
      if (i === 4) console.log('[runtime] trivial RUN timings (last):', r.timings);
    }
    const best = Math.min(...times);
    const median = [...times].sort((a, b) => a - b)[2] as number;
    console.log(`[runtime] trivial warm RUN: best ${best.toFixed(0)} ms, median ${median.toFixed(0)} ms`);
    expect(median).toBeLessThan(1000);
  });

  it('a chain deeper than the lowerdir limit flattens its oldest layers (from the layer tars)', async () => {
    const layers = [...base];
    for (const script of ['echo one > /one; rm /bin/ls', 'echo two > /two; rm -rf /home && mkdir /home']) {
      const r = await sh(script, { layers });
      const info = await writeLayer(store, r.entries, { mtime: 0 });
      await r.release(); // not committed: the next snapshotter must extract the tar
      layers.push(layerFromStore(store, { ...info }));
    }
    const deep = await Snapshotter.open({ root: join(work, 'snapshots-deep'), maxLowerDirs: 2 });
    const r = await sh('cat /one /two; ls /bin/ls 2>/dev/null || echo no-ls; ls -A /home | wc -l', {
      snapshotter: deep,
      layers,
    });
    expect(r.lines).toEqual(['one', 'two', 'no-ls', '0']);
    expect(paths(r)).toEqual([]);
  });

  it('FROM scratch: an empty root filesystem', async () => {
    const snapshot = await overlay.prepare([]);
    try {
      expect(readdirSync(snapshot.rootfs)).toEqual([]);
    } finally {
      await snapshot.release();
    }
  });

  it('copy mode (no overlayfs): the same change sets from a stat-based scan', async () => {
    const copy = await Snapshotter.open({ root: join(work, 'snapshots-copy'), mode: 'copy' });
    const echo = await sh('echo hi > /out.txt; rm /bin/ls; mkdir -p /a/b && touch /a/b/c', {
      snapshotter: copy,
    });
    expect(changed(echo).map((e) => `${e.type}:${e.path}`)).toEqual([
      'dir:a',
      'dir:a/b',
      'file:a/b/c',
      'dir:bin',
      'file:bin/.wh.ls',
      'file:out.txt',
    ]);
    const info = await writeLayer(store, echo.entries, { mtime: 0 });
    await echo.commitSnapshot(info.diffId);
    const layers = [...base, layerFromStore(store, { ...info })];
    const next = await sh('cat /out.txt; ls /a/b', { snapshotter: copy, layers });
    expect(next.lines).toEqual(['hi', 'c']);
    expect(paths(next)).toEqual([]);
  });
});
