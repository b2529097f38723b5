// Peer tools (Debian packages) used as independent witnesses: skopeo reads registries and layouts,
// umoci unpacks OCI layouts. requireTool() decides between "skip" (dev machine) and "fail" (CI).
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { run } from './exec.js';

/** Which Debian package provides each tool (for error messages). */
const PACKAGE_OF: Record<string, string> = {
  docker: 'docker.io',
  dockerd: 'docker.io',
  'docker-registry': 'docker-registry',
  skopeo: 'skopeo',
  umoci: 'umoci',
  runc: 'runc',
  busybox: 'busybox-static',
  openssl: 'openssl',
  go: 'golang-go',
};

/** CI=true (or any value but "false"/"0"): missing peers are failures, never skips. */
export const isCI: boolean = !!process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0';

/** Absolute path of an executable on PATH (or the absolute path itself), else undefined. */
export function which(name: string): string | undefined {
  const candidates = name.includes('/')
    ? [name]
    : (process.env.PATH ?? '').split(delimiter).map((d) => join(d, name));
  return candidates.find((p) => {
    try {
      accessSync(p, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * True when `name` is installed. When it is not: throws under CI, returns false elsewhere, so tests write
 * `it.skipIf(!requireTool('skopeo'))(...)`.
 */
export function requireTool(name: string): boolean {
  if (which(name)) return true;
  const pkg = PACKAGE_OF[name.split('/').pop() ?? name] ?? name;
  if (isCI) throw new Error(`required tool "${name}" is missing (CI never skips): apt-get install ${pkg}`);
  return false;
}

/** `skopeo inspect` → parsed JSON. Loopback registries are plain HTTP or self-signed, so no TLS verify. */
export async function skopeoInspect(
  transportRef: string,
  opts: { raw?: boolean; config?: boolean } = {},
): Promise<Record<string, unknown>> {
  const args = ['inspect'];
  if (transportRef.startsWith('docker://')) args.push('--tls-verify=false');
  if (opts.raw) args.push('--raw');
  if (opts.config) args.push('--config');
  args.push(transportRef);
  return JSON.parse((await run('skopeo', args)).stdout) as Record<string, unknown>;
}

/** `skopeo copy` between any two transports (docker://, oci:, oci-archive:, docker-archive:, dir:). */
export async function skopeoCopy(src: string, dst: string, extraArgs: readonly string[] = []): Promise<void> {
  await run('skopeo', ['copy', '--src-tls-verify=false', '--dest-tls-verify=false', ...extraArgs, src, dst]);
}

/**
 * `umoci unpack --image LAYOUT:TAG DIR` → DIR/rootfs + DIR/config.json (a runtime bundle).
 * Non-root needs `--rootless` (no chown; ownership recorded in umoci's metadata instead).
 */
export async function umociUnpack(layoutRef: string, dir: string): Promise<string> {
  const rootless = process.getuid?.() !== 0 ? ['--rootless'] : [];
  await run('umoci', ['unpack', ...rootless, '--image', layoutRef, dir]);
  return dir;
}
