/**
 * Package URLs (https://github.com/package-url/purl-spec): `pkg:type/namespace/name@version?qualifiers`.
 * Each part is percent-encoded; qualifiers are sorted by key, as the spec's canonical form asks.
 */

export type PackageType = 'deb' | 'apk' | 'npm' | 'pypi';

export interface PurlParts {
  readonly type: PackageType;
  readonly namespace?: string | undefined;
  readonly name: string;
  readonly version: string;
  readonly qualifiers?: Readonly<Record<string, string | undefined>>;
}

/** Percent-encodes everything but the purl spec's unreserved characters. */
function encode(part: string): string {
  return encodeURIComponent(part).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

export function purl(parts: PurlParts): string {
  const namespace = parts.namespace ? `${parts.namespace.split('/').map(encode).join('/')}/` : '';
  const qualifiers = Object.entries(parts.qualifiers ?? {})
    .filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== '')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => `${key}=${encode(value)}`)
    .join('&');
  return `pkg:${parts.type}/${namespace}${encode(parts.name)}@${encode(parts.version)}${qualifiers ? `?${qualifiers}` : ''}`;
}

/** PyPI names compare lowercased with runs of `-`, `_` and `.` as one `-` (PEP 503). */
export function normalisePypiName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}
