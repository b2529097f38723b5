/**
 * The package databases the catalogue reads, one parser each: text in, packages out, pure. The input
 * comes from an image, so it may be hostile: a parser never throws on malformed content; a stanza or
 * document it cannot read gives no package.
 */
import { normalisePypiName, type PackageType, purl } from './purl.js';

/** A package as a database describes it, before the catalogue adds where it was found. */
export interface ParsedPackage {
  readonly type: PackageType;
  readonly name: string;
  readonly version: string;
  readonly purl: string;
  /** The licence as declared (an SPDX expression or free text), when the database has one. */
  readonly licence?: string | undefined;
}

/** The distribution named by `/etc/os-release` (`ID`, `VERSION_ID`), for the purl namespace. */
export interface Distro {
  readonly id: string;
  readonly versionId?: string | undefined;
}

/** `Key: value` stanzas separated by blank lines; continuation lines (leading space/tab) are dropped. */
function stanzas(text: string, separator: RegExp): Map<string, string>[] {
  const out: Map<string, string>[] = [];
  let current = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      if (current.size > 0) out.push(current);
      current = new Map();
      continue;
    }
    if (line.startsWith(' ') || line.startsWith('\t')) continue;
    const match = separator.exec(line);
    if (match?.[1] !== undefined && !current.has(match[1])) current.set(match[1], (match[2] ?? '').trim());
  }
  if (current.size > 0) out.push(current);
  return out;
}

/** A distribution package (deb/apk) with its purl: `arch`, `distro` and the source package as `upstream`. */
function distroPackage(
  type: 'deb' | 'apk',
  namespace: string,
  distro: Distro | undefined,
  name: string,
  version: string,
  arch: string | undefined,
  source: string | undefined,
): ParsedPackage {
  const qualifiers = {
    arch,
    distro: distro?.versionId ? `${namespace}-${distro.versionId}` : undefined,
    upstream: source && source !== name ? source : undefined,
  };
  return { type, name, version, purl: purl({ type, namespace, name, version, qualifiers }) };
}

/**
 * `/var/lib/dpkg/status` or a file of `status.d/` (distroless). Only packages dpkg calls installed count
 * (`Status: install ok installed`); `status.d` files have no Status field and list installed packages.
 */
export function parseDpkgStatus(text: string, distro: Distro | undefined): ParsedPackage[] {
  const namespace = distro?.id ?? 'debian';
  const packages: ParsedPackage[] = [];
  for (const stanza of stanzas(text, /^([A-Za-z0-9-]+):(.*)$/)) {
    const name = stanza.get('Package');
    const version = stanza.get('Version');
    const status = stanza.get('Status');
    if (!name || !version) continue;
    if (status !== undefined && status.split(/\s+/)[2] !== 'installed') continue;
    const source = stanza.get('Source')?.split(/\s+/)[0];
    packages.push(distroPackage('deb', namespace, distro, name, version, stanza.get('Architecture'), source));
  }
  return packages;
}

/** `/lib/apk/db/installed`: one-letter keys (`P` name, `V` version, `A` arch, `L` licence, `o` origin). */
export function parseApkInstalled(text: string, distro: Distro | undefined): ParsedPackage[] {
  const namespace = distro?.id ?? 'alpine';
  const packages: ParsedPackage[] = [];
  for (const stanza of stanzas(text, /^([A-Za-z]):(.*)$/)) {
    const name = stanza.get('P');
    const version = stanza.get('V');
    if (!name || !version) continue;
    const origin = stanza.get('o');
    const pkg = distroPackage('apk', namespace, distro, name, version, stanza.get('A'), origin);
    packages.push({ ...pkg, licence: stanza.get('L') || undefined });
  }
  return packages;
}

function npmLicence(json: Record<string, unknown>): string | undefined {
  const licence = json.license;
  if (typeof licence === 'string') return licence;
  if (licence && typeof licence === 'object' && typeof (licence as { type?: unknown }).type === 'string') {
    return (licence as { type: string }).type;
  }
  // the old `licenses: [{ type }]` form: all of them apply
  if (Array.isArray(json.licenses)) {
    const types = json.licenses
      .map((l: unknown) => (l && typeof l === 'object' ? (l as { type?: unknown }).type : l))
      .filter((t): t is string => typeof t === 'string');
    if (types.length === 1) return types[0];
    if (types.length > 1) return `(${types.join(' OR ')})`;
  }
  return undefined;
}

/** A `package.json` directly under a `node_modules` folder (npm, yarn, pnpm's `.pnpm/*` store alike). */
export function parseNodePackageJson(text: string): ParsedPackage | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) return undefined;
  const record = json as Record<string, unknown>;
  const { name, version } = record;
  if (typeof name !== 'string' || typeof version !== 'string' || name === '' || version === '')
    return undefined;
  const scoped = /^(@[^/]+)\/(.+)$/.exec(name);
  return {
    type: 'npm',
    name,
    version,
    licence: npmLicence(record),
    purl: purl({ type: 'npm', namespace: scoped?.[1], name: scoped?.[2] ?? name, version }),
  };
}

/** A wheel's `*.dist-info/METADATA` or an egg's `PKG-INFO`: email-style headers up to the first blank line. */
export function parsePythonMetadata(text: string): ParsedPackage | undefined {
  const headerEnd = text.search(/\r?\n\r?\n/);
  const [fields] = stanzas(
    (headerEnd === -1 ? text : text.slice(0, headerEnd)).replace(/\r/g, ''),
    /^([A-Za-z0-9-]+):(.*)$/,
  );
  const name = fields?.get('Name');
  const version = fields?.get('Version');
  if (!fields || !name || !version) return undefined;
  const licence = fields.get('License-Expression') || fields.get('License') || undefined;
  return {
    type: 'pypi',
    name,
    version,
    licence: licence && licence !== 'UNKNOWN' ? licence : undefined,
    purl: purl({ type: 'pypi', name: normalisePypiName(name), version }),
  };
}

/** `/etc/os-release`: `ID` and `VERSION_ID`, quotes removed. */
export function parseOsRelease(text: string): Distro | undefined {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (match?.[1]) values.set(match[1], (match[2] ?? '').replace(/^(["'])(.*)\1$/, '$2'));
  }
  const id = values.get('ID');
  return id && /^[a-z0-9._-]+$/.test(id)
    ? { id, versionId: values.get('VERSION_ID') || undefined }
    : undefined;
}
