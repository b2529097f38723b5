// The RUN sandbox (issue 12, item 3), attacked through the CLI as a hostile Dockerfile would: a step
// runs in a network namespace of its own (slirp4netns: outbound yes, the host's loopback no), under
// Docker's default seccomp filter and capability set with no new privileges; `--network=host` and
// `--security=insecure` need `--allow`. Each attack here worked on the code before the sandbox.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, ensureCliBuilt } from '../helpers/cli.js';
import { dockerBuild } from '../helpers/docker.js';
import { noDocker, testEnv } from '../helpers/env.js';
import { run } from '../helpers/exec.js';
import { tempDir } from '../helpers/paths.js';
import { isCI, which } from '../helpers/tools.js';

const isRoot = process.getuid?.() === 0;
const tools = ['gcc', 'ip', 'slirp4netns'].filter((t) => !which(t));
if (isCI && tools.length) throw new Error(`sandbox tests need ${tools.join(', ')} (scripts/test-env.sh)`);

/** Docker's default capability set (CHOWN … AUDIT_WRITE, 14 capabilities) as /proc/self/status shows it. */
const DEFAULT_CAPS = '00000000a80425fb';
const MARKER = `wharf-sniff-${process.pid}`;

// A packet sniffer (AF_PACKET, every protocol) that reports whether it saw the marker within 3 s:
// in the host's network namespace with CAP_NET_RAW it reads the host's loopback traffic.
const SNIFFER = `
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
int main(int argc, char **argv) {
  int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
  if (fd < 0) { perror("sniff: socket"); return 0; }
  struct timeval tv = {0, 200000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  static char buf[65536];
  time_t end = time(0) + 3;
  while (time(0) < end) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n > 0 && memmem(buf, n, argv[1], strlen(argv[1]))) { puts("sniff: captured"); return 0; }
  }
  puts("sniff: nothing");
  return 0;
}
`;

interface Build {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** The lines the RUN steps printed (`--progress plain` prefixes them with the stage). */
  readonly lines: string[];
}

/** `wharf build -f Dockerfile ctx` as a child process, without blocking this process's servers. */
async function build(dockerfile: string, args: readonly string[] = []): Promise<Build> {
  ensureCliBuilt();
  const context = tempDir('wharf-sandbox-ctx-');
  writeFileSync(join(context, 'Dockerfile'), dockerfile);
  if (dockerfile.includes('COPY sniff')) {
    await run('gcc', ['-static', '-O2', '-o', join(context, 'sniff'), '-x', 'c', '-'], { input: SNIFFER });
  }
  const cacheDir = join(tempDir('wharf-sandbox-cache-'), 'cache');
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        cliPath,
        'build',
        '-f',
        join(context, 'Dockerfile'),
        context,
        '--registry-mirror',
        testEnv().mirror.url,
        '--progress',
        'plain',
        '--cache-dir',
        cacheDir,
        ...args,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    child.once('error', reject);
    child.once('close', (code) => {
      // A RUN's output lines: `[stage-0 N] text` (N = the step).
      const lines = stderr.split('\n').flatMap((line) => /^\[stage-0 \d+\] (.*)$/.exec(line)?.[1] ?? []);
      resolve({ code: code ?? -1, stdout, stderr, lines });
    });
  });
}

/**
 * A shell line that GETs `http://host:port/path` with busybox `nc` and prints `key=reached` or
 * `key=unreachable` (busybox-static's `wget` crashes in a rootfs without glibc's NSS modules).
 */
const get = (key: string, host: string, port: number, path: string) =>
  `if printf 'GET ${path} HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${host} ${port} | grep -q '^HTTP/1.[01] 200'; then echo ${key}=reached; else echo ${key}=unreachable; fi`;

/** The value of `key=` among the step's output lines. */
const value = (result: Build, key: string) =>
  result.lines.find((line) => line.startsWith(`${key}=`))?.slice(key.length + 1);

/** The error line of a failed build (after the no-output warning and its hint). */
const failure = (result: Build) =>
  result.stderr.split('\n').find((line) => line.startsWith('wharf: ') && !line.startsWith('wharf: warning:'));

describe.skipIf(noDocker() || !isRoot)('RUN sandbox: what a step can reach', () => {
  let hostServer: Server;
  let hostPort: number;
  let hostHits = 0;
  // The outbound target: a network namespace of this test's own, joined to the host by a veth pair.
  const ns = `wharf-sbx-${process.pid}`;
  const vethHost = `wsb${process.pid % 100000}h`;
  const vethNs = `wsb${process.pid % 100000}n`;
  let outboundServer: ChildProcess | undefined;
  const outboundPort = 18080;

  beforeAll(async () => {
    // A service on the host's loopback, as a registry or a metadata proxy would be.
    hostServer = createServer((req, res) => {
      if (req.url === '/from-step') hostHits++;
      res.end('host-loopback-secret\n');
    });
    await new Promise<void>((ok) => hostServer.listen(0, '127.0.0.1', ok));
    hostPort = (hostServer.address() as AddressInfo).port;

    const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });
    ip('netns', 'add', ns);
    ip('link', 'add', vethHost, 'type', 'veth', 'peer', 'name', vethNs);
    ip('link', 'set', vethNs, 'netns', ns);
    ip('addr', 'add', '198.18.0.1/30', 'dev', vethHost);
    ip('link', 'set', vethHost, 'up');
    ip('netns', 'exec', ns, 'ip', 'addr', 'add', '198.18.0.2/30', 'dev', vethNs);
    ip('netns', 'exec', ns, 'ip', 'link', 'set', vethNs, 'up');
    ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
    const www = tempDir('wharf-sandbox-www-');
    mkdirSync(www, { recursive: true });
    writeFileSync(join(www, 'hello.txt'), 'outbound-works\n');
    outboundServer = spawn(
      'ip',
      ['netns', 'exec', ns, 'busybox', 'httpd', '-f', '-p', `198.18.0.2:${outboundPort}`, '-h', www],
      { stdio: 'ignore' },
    );
    // wait until it answers
    for (let i = 0; i < 50; i++) {
      const up = await new Promise<boolean>((ok) => {
        const req = request(`http://198.18.0.2:${outboundPort}/hello.txt`, (res) => {
          res.resume();
          ok(res.statusCode === 200);
        });
        req.on('error', () => ok(false));
        req.end();
      });
      if (up) break;
      await new Promise((ok) => setTimeout(ok, 100));
    }
  });

  afterAll(async () => {
    outboundServer?.kill('SIGKILL');
    try {
      execFileSync('ip', ['link', 'del', vethHost], { stdio: 'ignore' });
    } catch {}
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {}
    await new Promise((ok) => hostServer?.close(ok));
  });

  const defaultsProbe = () => `FROM busybox
RUN for k in Seccomp CapEff CapBnd NoNewPrivs; do echo "$k=$(sed -n "s/^$k:[[:space:]]*//p" /proc/self/status)"; done; \\
    if unshare -U -r true; then echo userns=made; else echo userns=refused; fi; \\
    if unshare -U -r -m sh -c 'mount -t tmpfs none /mnt'; then echo mount=done; else echo mount=refused; fi; \\
    ${get('loopback', '127.0.0.1', hostPort, '/from-step')}
`;

  it("by default: Docker's seccomp filter and capabilities, no new privileges, no user namespaces", async () => {
    const result = await build(defaultsProbe());
    expect(result.code, result.stderr).toBe(0);
    expect(value(result, 'Seccomp')).toBe('2');
    expect(value(result, 'CapEff')).toBe(DEFAULT_CAPS);
    expect(value(result, 'CapBnd')).toBe(DEFAULT_CAPS);
    expect(value(result, 'NoNewPrivs')).toBe('1');
    expect(value(result, 'userns')).toBe('refused');
    expect(value(result, 'mount')).toBe('refused');
  });

  it('BuildKit, the same Dockerfile side by side: the same filter, capabilities and loopback (it leaves NoNewPrivs off)', async () => {
    const context = tempDir('wharf-sandbox-bk-');
    const { log } = await dockerBuild({
      contextDir: context,
      dockerfileText: defaultsProbe(),
      args: ['--no-cache'],
    });
    // plain progress: `#5 0.123 Seccomp=2`
    const lines = log.split('\n').map((line) => line.replace(/^#\d+ [\d.]+ /, ''));
    const buildkit = { code: 0, stdout: '', stderr: log, lines };
    const wharf = await build(defaultsProbe());
    for (const key of ['Seccomp', 'CapEff', 'CapBnd', 'userns', 'mount', 'loopback'])
      expect([key, value(wharf, key)]).toEqual([key, value(buildkit, key)]);
    expect(value(buildkit, 'NoNewPrivs')).toBe('0');
    expect(value(wharf, 'NoNewPrivs')).toBe('1');
  });

  it("the host's loopback services are unreachable (127.0.0.1 and slirp's host alias 10.0.2.2)", async () => {
    const result = await build(`FROM busybox
RUN ${get('loopback', '127.0.0.1', hostPort, '/from-step')}; \\
    ${get('alias', '10.0.2.2', hostPort, '/from-step')}; \\
    echo "links=$(ip -o link | sed 's/^[0-9]*: \\([^:@]*\\).*/\\1/' | tr '\\n' ' ')"
`);
    expect(result.code, result.stderr).toBe(0);
    expect(value(result, 'loopback')).toBe('unreachable');
    expect(value(result, 'alias')).toBe('unreachable');
    expect(result.stderr).not.toContain('host-loopback-secret');
    expect(hostHits).toBe(0);
    // only the namespace's own interfaces: none of the host's
    expect(value(result, 'links')?.trim().split(' ').sort()).toEqual(['eth0', 'lo']);
  });

  it("a raw socket does not see the host's loopback traffic", async () => {
    // The host talks to its loopback service, with a bearer token, all the time the step sniffs.
    let sending = true;
    const traffic = (async () => {
      while (sending) {
        await new Promise<void>((ok) => {
          const req = request(
            `http://127.0.0.1:${hostPort}/api`,
            { headers: { authorization: `Bearer ${MARKER}` } },
            (res) => {
              res.resume();
              res.on('end', ok);
            },
          );
          req.on('error', () => ok());
          req.end();
        });
        await new Promise((ok) => setTimeout(ok, 20));
      }
    })();
    const result = await build(`FROM busybox
COPY sniff /sniff
RUN /sniff ${MARKER}
`).finally(() => {
      sending = false;
    });
    await traffic;
    expect(result.code, result.stderr).toBe(0);
    expect(result.lines).toContain('sniff: nothing');
    expect(result.lines).not.toContain('sniff: captured');
  });

  it('outbound traffic works by default: a server in another network namespace of this machine', async () => {
    const result = await build(`FROM busybox
RUN printf 'GET /hello.txt HTTP/1.0\\r\\n\\r\\n' | nc -w 5 198.18.0.2 ${outboundPort} > /fetched; echo "fetched=$(tail -n 1 /fetched)"; \\
    echo "resolver=$(sed -n 's/^nameserver //p' /etc/resolv.conf)"
`);
    expect(result.code, result.stderr).toBe(0);
    expect(value(result, 'fetched')).toBe('outbound-works');
    expect(value(result, 'resolver')).toBe('10.0.2.3');
  });

  it('--network=none: only lo', async () => {
    const result = await build(`FROM busybox
RUN --network=none echo "links=$(ip -o link | sed 's/^[0-9]*: \\([^:@]*\\).*/\\1/' | tr '\\n' ' ')"; \\
    ${get('out', '198.18.0.2', outboundPort, '/hello.txt')}
`);
    expect(result.code, result.stderr).toBe(0);
    expect(value(result, 'links')?.trim()).toBe('lo');
    expect(value(result, 'out')).toBe('unreachable');
  });

  it('--network=host needs --allow network.host: refused before any work, then granted', async () => {
    const dockerfile = `FROM busybox
RUN --network=host ${get('loopback', '127.0.0.1', hostPort, '/')}
`;
    const refused = await build(dockerfile);
    expect(refused.code).toBe(1);
    const first = failure(refused);
    expect(first).toMatch(/^wharf: .*--network=host needs the network\.host entitlement/);
    expect(refused.stderr).toMatch(/hint: .*--allow network\.host/);
    expect(refused.stderr).not.toMatch(/\n\s+at /);
    expect(refused.stderr).not.toContain('[stage-0] FROM'); // nothing was pulled or run

    const granted = await build(dockerfile, ['--allow', 'network.host']);
    expect(granted.code, granted.stderr).toBe(0);
    expect(value(granted, 'loopback')).toBe('reached');
  });

  it('--security=insecure needs --allow security.insecure; granted, the step is unconfined', async () => {
    const dockerfile = `FROM busybox
RUN --security=insecure for k in Seccomp CapEff; do echo "$k=$(sed -n "s/^$k:[[:space:]]*//p" /proc/self/status)"; done; \\
    if unshare -U -r true; then echo userns=made; else echo userns=refused; fi
`;
    const refused = await build(dockerfile);
    expect(refused.code).toBe(1);
    expect(failure(refused)).toMatch(
      /^wharf: .*--security=insecure needs the security\.insecure entitlement/,
    );
    expect(refused.stderr).toMatch(/hint: .*--allow security\.insecure/);

    const unknown = await build(dockerfile, ['--allow', 'root.everything']);
    expect(unknown.code).toBe(1);
    expect(failure(unknown)).toMatch(/^wharf: unknown entitlement "root\.everything"/);

    const granted = await build(dockerfile, ['--allow', 'security.insecure']);
    expect(granted.code, granted.stderr).toBe(0);
    expect(value(granted, 'Seccomp')).toBe('0');
    expect(value(granted, 'CapEff')).not.toBe(DEFAULT_CAPS);
    expect(BigInt(`0x${value(granted, 'CapEff')}`) & (1n << 21n)).toBe(1n << 21n); // CAP_SYS_ADMIN
    expect(value(granted, 'userns')).toBe('made');
  });
});
