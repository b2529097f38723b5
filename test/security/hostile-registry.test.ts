// The real CLI against a registry written by an attacker (helpers/hostile-registry.ts): every trap ends
// within seconds with one clear error line and exit 1, the process stays under 200 MB, nothing partial
// is left in the cache or the output, credentials never reach a token realm on another host over plain
// HTTP, and a digest that is a path never becomes a URL.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, ensureCliBuilt } from '../helpers/cli.js';
import { testEnv } from '../helpers/env.js';
import {
  type HostileMode,
  type HostileRegistry,
  startHostileRegistry,
  writeLayoutWithLargeLayer,
} from '../helpers/hostile-registry.js';
import { tempDir } from '../helpers/paths.js';
import { requireTool } from '../helpers/tools.js';

const TIME = '/usr/bin/time';
const hasTime = requireTool(TIME);

interface Run {
  readonly code: number | null;
  readonly stderr: string;
  readonly ms: number;
  /** Peak resident memory of the CLI process, in MB (GNU time's %M). */
  readonly maxRssMb: number;
}

/** Runs the built CLI under GNU time (asynchronously: the hostile server lives in this process). */
function runWharf(args: readonly string[], env: NodeJS.ProcessEnv): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(TIME, ['-f', 'wharf-test-maxrss-kb=%M', process.execPath, cliPath, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true, // its own process group: a timeout kills time and wharf together
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    }, 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const rss = /wharf-test-maxrss-kb=(\d+)/.exec(stderr);
      resolve({
        code,
        ms: Date.now() - started,
        maxRssMb: rss ? Number(rss[1]) / 1024 : Number.NaN,
        stderr: stderr
          .replace(/^.*wharf-test-maxrss-kb=.*$\n?/m, '')
          .replace(/^Command exited with.*$\n?/m, ''),
      });
    });
  });
}

/** Every regular file under `dir`, relative. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else out.push(relative(dir, path));
    }
  };
  walk(dir);
  return out;
}

/** Files in the cache that are not complete, verified blobs (a partial or temp file, a session, …). */
function unverifiedFiles(cacheDir: string): string[] {
  return filesUnder(cacheDir).filter((file) => {
    const m = /^(?:wharf\/)?blobs\/sha256\/([0-9a-f]{64})$/.exec(file);
    if (!m) return true;
    return (
      createHash('sha256')
        .update(readFileSync(join(cacheDir, file)))
        .digest('hex') !== m[1]
    );
  });
}

interface Case {
  readonly mode: HostileMode;
  /** What the error line says. */
  readonly error: RegExp;
  /** The longest the CLI may take (stalls are retried: 5 attempts of a 1 s idle timeout, plus backoff). */
  readonly withinMs?: number;
}

const CASES: readonly Case[] = [
  {
    mode: 'endless-manifest',
    error: /manifest latest from 127\.0\.0\.1:\d+\/evil is larger than 4 MiB: rejected/,
  },
  {
    mode: 'endless-blob',
    error: /blob sha256:[0-9a-f]{64} from .* is larger than its descriptor's 1048576 bytes/,
  },
  {
    mode: 'oversized-blob',
    error: /blob sha256:[0-9a-f]{64} from .* is larger than its descriptor's 1048576 bytes/,
  },
  {
    mode: 'stalled-blob',
    error:
      /pull blob sha256:[0-9a-f]{64} on .* failed after 5 attempts: the registry stopped sending \(no data for 1 s/,
    withinMs: 30_000,
  },
  {
    mode: 'redirect-loop',
    error: /GET http:\/\/127\.0\.0\.1:\d+\/v2\/evil\/manifests\/latest: a redirect loop/,
  },
  {
    mode: 'endless-token',
    error: /the token response from http:\/\/127\.0\.0\.1:\d+ is larger than 1 MiB: rejected/,
  },
  {
    mode: 'trickling-token',
    error:
      /the token response from http:\/\/127\.0\.0\.1:\d+ did not arrive within 4 s: the registry sends too slowly/,
  },
  { mode: 'endless-401', error: /pull manifest latest on 127\.0\.0\.1:\d+\/evil failed: HTTP 401/ },
  { mode: 'endless-404', error: /pull manifest latest on 127\.0\.0\.1:\d+\/evil failed: HTTP 404/ },
  {
    mode: 'patch-no-progress',
    withinMs: 30_000,
    error:
      /upload of sha256:[0-9a-f]{64} to 127\.0\.0\.1:\d+\/evil makes no progress: the registry stays at 1 of 17825792 bytes after 5 chunks in a row/,
  },
  {
    mode: 'foreign-realm',
    error:
      /127\.0\.0\.1:\d+ asks for credentials at http:\/\/127\.0\.0\.2:\d+, another host over plain HTTP: wharf does not send them there/,
  },
  {
    mode: 'traversal-digest',
    error: /descriptor \/layers\/0 has an invalid digest "sha256:\.\.\/\.\.\/\.\.\/\.\.\/\.\.\/etc\/passwd"/,
  },
];

const PASSWORD = 'hostile-test-Pa55word';

describe.skipIf(!hasTime)('the CLI against a hostile registry', () => {
  let layout: string;
  beforeAll(() => {
    ensureCliBuilt();
    layout = join(tempDir('wharf-hostile-layout-'), 'layout');
    writeLayoutWithLargeLayer(layout);
  });

  const registries: HostileRegistry[] = [];
  afterAll(async () => {
    await Promise.all(registries.map((r) => r.stop()));
  });

  for (const c of CASES) {
    it(`${c.mode}: one clear error, exit 1, in seconds, under 200 MB, nothing left behind`, async () => {
      const registry = await startHostileRegistry(c.mode);
      registries.push(registry);
      const work = tempDir(`wharf-hostile-${c.mode}-`);
      const cache = join(work, 'cache');
      const out = join(work, 'out');
      const ref = `${registry.host}/evil:latest`;
      const args =
        c.mode === 'patch-no-progress'
          ? ['push', '-q', layout, ref]
          : ['pull', '-q', ref, '--cache-dir', join(cache, 'wharf'), '-o', `type=oci,dest=${out}`];
      const run = await runWharf(args, {
        WHARF_REGISTRY_TIMEOUT: '1',
        XDG_CACHE_HOME: cache,
        WHARF_CONFIG: join(work, 'no-config.json'),
        DOCKER_CONFIG: join(work, 'docker'),
        WHARF_REGISTRY_USERNAME: 'victim',
        WHARF_REGISTRY_PASSWORD: PASSWORD,
      });
      console.log(
        `[hostile] ${c.mode}: exit ${run.code} in ${run.ms} ms, peak RSS ${run.maxRssMb.toFixed(0)} MB: ${run.stderr.split('\n')[0]}`,
      );

      expect(run.code, run.stderr).toBe(1);
      const lines = run.stderr.trimEnd().split('\n');
      expect(lines[0], run.stderr).toMatch(c.error);
      expect(lines[0]).toMatch(/^wharf: /);
      expect(
        lines.slice(1).every((l) => l.startsWith('  hint: ')),
        run.stderr,
      ).toBe(true);
      expect(run.stderr).not.toMatch(/internal error|\n\s+at /);
      expect(run.stderr).not.toContain(PASSWORD);
      expect(run.ms).toBeLessThan(c.withinMs ?? 15_000);
      expect(run.maxRssMb).toBeLessThan(200);
      expect(unverifiedFiles(cache)).toEqual([]);
      expect(filesUnder(cache).some((f) => f.endsWith(registry.layerDigest.slice(7)))).toBe(false);
      expect(filesUnder(out)).toEqual([]);

      if (c.mode === 'foreign-realm') {
        const toRealm = registry.seen.filter((r) => r.server === 'foreign-realm');
        expect(toRealm.length).toBeGreaterThan(0);
        for (const r of toRealm) {
          expect(r.authorization).toBeUndefined();
          expect(r.url).not.toContain('account=');
        }
      }
      if (c.mode === 'traversal-digest') {
        expect(registry.seen.map((r) => r.url).filter((u) => u.includes('etc') || u.includes('..'))).toEqual(
          [],
        );
      }
    });
  }

  it('a mirror URL with a password: the password is in no line wharf prints', async () => {
    const registry = await startHostileRegistry('endless-404');
    registries.push(registry);
    const work = tempDir('wharf-hostile-mirror-');
    // The hostile mirror fails (a warning names it), then the test mirror serves busybox.
    const mirrors = `http://mirror-user:${PASSWORD}@${registry.host},${testEnv().mirror.url}`;
    const run = await runWharf(['pull', 'busybox:latest', '--cache-dir', join(work, 'cache')], {
      WHARF_REGISTRY_TIMEOUT: '1',
      WHARF_CONFIG: join(work, 'no-config.json'),
      WHARF_REGISTRY_MIRROR: mirrors,
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/wharf: mirror http:\/\/mirror-user:\*\*\*@127\.0\.0\.1:\d+ failed/);
    expect(run.stderr).not.toContain(PASSWORD);
  });
});
