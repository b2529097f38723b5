/**
 * Platform specifiers (`linux/amd64`, `linux/arm64/v8`, `linux/arm/v7`, `windows(10.0.17763)/amd64`),
 * normalised the way containerd's `platforms` package does, and matching for picking a manifest out
 * of an index.
 *
 * Normal form: lowercase; `x86_64`/`x86-64` → `amd64`, `i386` → `386`, `aarch64` → `arm64`,
 * `armhf` → `arm/v7`, `armel` → `arm/v6`; `arm` without a variant → `arm/v7`; `arm64/v8` → `arm64`
 * (v8 is arm64's baseline, so it is dropped, as `amd64/v1` is).
 *
 * Matching (see {@link matchPlatform}) follows containerd's `platforms.Only` *within one
 * architecture* — an arm/v7 host runs arm/v6 and arm/v5 images, arm64/v8.2 runs v8.1 and v8,
 * amd64/v3 runs v2 and v1 — but, unlike containerd, never falls back to a different architecture
 * (amd64 → 386, arm64 → arm): a builder asked for 64-bit must not silently produce a 32-bit image.
 */
import { endianness } from 'node:os';
import { OciError } from './errors.js';
import type { Platform } from './types.js';

const KNOWN_OS: ReadonlySet<string> = new Set([
  'aix',
  'android',
  'darwin',
  'dragonfly',
  'freebsd',
  'hurd',
  'illumos',
  'ios',
  'js',
  'linux',
  'nacl',
  'netbsd',
  'openbsd',
  'plan9',
  'solaris',
  'wasip1',
  'windows',
  'zos',
]);

const KNOWN_ARCH: ReadonlySet<string> = new Set([
  '386',
  'amd64',
  'amd64p32',
  'arm',
  'armbe',
  'arm64',
  'arm64be',
  'loong64',
  'mips',
  'mipsle',
  'mips64',
  'mips64le',
  'mips64p32',
  'mips64p32le',
  'ppc',
  'ppc64',
  'ppc64le',
  'riscv',
  'riscv64',
  's390',
  's390x',
  'sparc',
  'sparc64',
  'wasm',
]);

const COMPONENT = /^[a-z0-9_.-]+$/;
const OS_AND_VERSION = /^([a-z0-9_.-]+)(?:\(([A-Za-z0-9_.-]*)\))?$/i;

const HINT = 'write it as os/arch[/variant], e.g. linux/amd64, linux/arm64 or linux/arm/v7';

function invalid(input: string, why: string, hint = HINT): OciError {
  return new OciError('OCI_INVALID_PLATFORM', `invalid platform ${JSON.stringify(input)}: ${why}`, { hint });
}

function normalizeOs(os: string): string {
  const lower = os.toLowerCase();
  return lower === 'macos' ? 'darwin' : lower;
}

function normalizeArch(architecture: string, variant: string): { architecture: string; variant: string } {
  const arch = architecture.toLowerCase();
  const v = variant.toLowerCase();
  switch (arch) {
    case 'i386':
      return { architecture: '386', variant: '' };
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      return { architecture: 'amd64', variant: v === 'v1' ? '' : v };
    case 'aarch64':
    case 'arm64':
      return { architecture: 'arm64', variant: v === '8' || v === 'v8' || v === 'v8.0' ? '' : v };
    case 'armhf':
      return { architecture: 'arm', variant: 'v7' };
    case 'armel':
      return { architecture: 'arm', variant: 'v6' };
    case 'arm':
      if (v === '' || v === '7') return { architecture: 'arm', variant: 'v7' };
      if (v === '5' || v === '6' || v === '8') return { architecture: 'arm', variant: `v${v}` };
      return { architecture: 'arm', variant: v };
    default:
      return { architecture: arch, variant: v };
  }
}

function build(
  os: string,
  architecture: string,
  variant: string,
  osVersion: string | undefined,
  rest?: Platform,
): Platform {
  return {
    architecture,
    os,
    ...(osVersion ? { 'os.version': osVersion } : {}),
    ...(rest?.['os.features']?.length ? { 'os.features': rest['os.features'] } : {}),
    ...(variant ? { variant } : {}),
    ...(rest?.features?.length ? { features: rest.features } : {}),
  };
}

/** The normal form of `platform` (see the module doc). Pure; unknown names pass through lowercased. */
export function normalizePlatform(platform: Platform): Platform {
  const { architecture, variant } = normalizeArch(platform.architecture, platform.variant ?? '');
  return build(normalizeOs(platform.os), architecture, variant, platform['os.version'], platform);
}

/**
 * Parses a platform specifier and normalises it.
 *
 * - `os/arch` and `os/arch/variant`; the os may carry a version: `windows(10.0.17763)/amd64`.
 * - A single known OS (`linux`) means that OS on the host's architecture; a single known architecture
 *   (`arm64`) means linux on it (containerd uses the host OS; wharf builds Linux images).
 *
 * Throws `OCI_INVALID_PLATFORM` naming the input.
 */
export function parsePlatform(specifier: string): Platform {
  const input = specifier.trim();
  if (input === '') throw invalid(specifier, 'it is empty');
  const parts = input.split('/');
  if (parts.length > 3) throw invalid(specifier, 'too many "/"-separated parts');
  const [first = '', arch, variant] = parts;
  const osMatch = OS_AND_VERSION.exec(first);
  if (!osMatch) throw invalid(specifier, `"${first}" is not a valid operating system`);
  const os = normalizeOs(osMatch[1] ?? '');
  const osVersion = osMatch[2] || undefined;
  for (const part of parts.slice(1)) {
    if (!COMPONENT.test(part.toLowerCase())) {
      throw invalid(
        specifier,
        part === '' ? 'it has an empty part' : `"${part}" contains invalid characters`,
      );
    }
  }

  if (arch === undefined) {
    if (KNOWN_OS.has(os)) {
      const host = hostPlatform();
      return build(os, host.architecture, host.variant ?? '', osVersion);
    }
    const normal = normalizeArch(first, '');
    if (osVersion === undefined && KNOWN_ARCH.has(normal.architecture)) {
      return build('linux', normal.architecture, normal.variant, undefined);
    }
    throw invalid(specifier, `"${first}" is neither a known operating system nor a known architecture`);
  }

  if (!KNOWN_OS.has(os)) {
    throw invalid(
      specifier,
      `unknown operating system "${osMatch[1]}"`,
      `${HINT}; known systems: linux, windows, darwin, freebsd…`,
    );
  }
  const normal = normalizeArch(arch, variant ?? '');
  if (!KNOWN_ARCH.has(normal.architecture)) {
    throw invalid(
      specifier,
      `unknown architecture "${arch}"`,
      `${HINT}; known architectures: amd64, arm64, arm, 386, ppc64le, s390x, riscv64…`,
    );
  }
  return build(os, normal.architecture, normal.variant, osVersion);
}

/** `os[(version)]/arch[/variant]` of the normalised platform, e.g. `linux/arm/v7`. */
export function formatPlatform(platform: Platform): string {
  const p = normalizePlatform(platform);
  const os = p['os.version'] ? `${p.os}(${p['os.version']})` : p.os;
  return p.variant ? `${os}/${p.architecture}/${p.variant}` : `${os}/${p.architecture}`;
}

const NODE_ARCH: Readonly<Record<string, string>> = {
  x64: 'amd64',
  ia32: '386',
  arm64: 'arm64',
  arm: 'arm',
  mips: 'mips',
  mipsel: 'mipsle',
  riscv64: 'riscv64',
  loong64: 'loong64',
  s390: 's390',
  s390x: 's390x',
  ppc: 'ppc',
};

const NODE_OS: Readonly<Record<string, string>> = { win32: 'windows', sunos: 'solaris' };

/**
 * The platform this process runs on, from `process.arch`/`process.platform` (arm's variant from
 * Node's build configuration). Note: on macOS and Windows this is *not* a Linux platform; callers
 * building Linux images decide what to do with that.
 */
export function hostPlatform(): Platform {
  const os = NODE_OS[process.platform] ?? process.platform;
  let architecture = NODE_ARCH[process.arch] ?? process.arch;
  if (process.arch === 'ppc64') architecture = endianness() === 'LE' ? 'ppc64le' : 'ppc64';
  let variant = '';
  if (process.arch === 'arm') {
    const armVersion = (process.config.variables as Record<string, unknown>).arm_version;
    variant = typeof armVersion === 'string' || typeof armVersion === 'number' ? `v${armVersion}` : '';
  }
  return normalizePlatform({ architecture, os, ...(variant ? { variant } : {}) });
}

/** Compatible variants for `p`, best first (same architecture only; see the module doc). */
function variantsFor(p: Platform): string[] {
  const variant = p.variant ?? '';
  switch (p.architecture) {
    case 'arm': {
      const n = Number.parseInt(variant.replace(/^v/, ''), 10);
      if (!/^v\d+$/.test(variant) || n <= 5) return [variant];
      const out: string[] = [];
      for (let v = n; v >= 5; v--) out.push(`v${v}`);
      return out;
    }
    case 'amd64': {
      if (variant === '') return [''];
      const m = /^v(\d+)$/.exec(variant);
      if (!m) return [variant];
      const out: string[] = [];
      for (let v = Number(m[1]); v >= 2; v--) out.push(`v${v}`);
      out.push('');
      return out;
    }
    case 'arm64': {
      const m = /^v(\d+)(?:\.(\d+))?$/.exec(variant === '' ? 'v8' : variant);
      if (!m) return [variant];
      let major = Number(m[1]);
      let minor = Number(m[2] ?? '0');
      if (major < 8) return [variant];
      const name = (maj: number, min: number): string =>
        maj === 8 && min === 0 ? '' : min === 0 ? `v${maj}` : `v${maj}.${min}`;
      const out: string[] = [];
      if (major === 9) {
        for (let v = minor; v >= 0; v--) out.push(name(9, v));
        // v9.x is compatible with v8.(x+5).
        major = 8;
        minor += 5;
      }
      if (major === 8) for (let v = minor; v >= 0; v--) out.push(name(8, v));
      return out.length > 0 ? out : [variant];
    }
    default:
      return [variant];
  }
}

function osVersionMatches(wanted: string | undefined, candidate: string | undefined): boolean {
  if (!wanted || !candidate) return true;
  // Windows: major.minor.build must agree; the revision (4th part) may differ.
  return wanted.split('.').slice(0, 3).join('.') === candidate.split('.').slice(0, 3).join('.');
}

/** 0 for an exact match, higher for a less preferred compatible one, -1 when `candidate` can't run. */
function rank(wanted: Platform, candidate: Platform): number {
  const w = normalizePlatform(wanted);
  const c = normalizePlatform(candidate);
  if (w.os !== c.os || w.architecture !== c.architecture) return -1;
  if (!osVersionMatches(w['os.version'], c['os.version'])) return -1;
  return variantsFor(w).indexOf(c.variant ?? '');
}

/**
 * True when an image built for `candidate` runs on `wanted` (both are normalised first):
 * `linux/arm64/v8` matches `linux/arm64`; `linux/arm/v7` accepts `linux/arm/v6` and `v5`.
 */
export function matchPlatform(wanted: Platform, candidate: Platform): boolean {
  return rank(wanted, candidate) >= 0;
}

/**
 * The best entry of `list` for `wanted`: an exact match first, then the closest compatible variant
 * (arm/v7 prefers v6 over v5); ties go to the earlier entry. Entries may be platforms or index
 * descriptors (entries without a `platform` are skipped). `undefined` when nothing matches.
 */
export function bestMatch<T extends Platform | { readonly platform?: Platform }>(
  list: readonly T[],
  wanted: Platform,
): T | undefined {
  let best: T | undefined;
  let bestRank = Number.POSITIVE_INFINITY;
  for (const item of list) {
    const platform = 'architecture' in item ? (item as Platform) : (item as { platform?: Platform }).platform;
    if (!platform) continue;
    const r = rank(wanted, platform);
    if (r >= 0 && r < bestRank) {
      best = item;
      bestRank = r;
    }
  }
  return best;
}
