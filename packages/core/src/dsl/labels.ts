/**
 * The OCI image annotations as labels (`org.opencontainers.image.*`), typed, for `.label(ociLabels({ … }))`.
 * See https://github.com/opencontainers/image-spec/blob/main/annotations.md.
 *
 * @example stage('app').from('alpine:3.20').label(ociLabels({ title: 'app', source: 'https://github.com/me/app' }))
 */

import { checkOptions, optionNames } from './usage.js';

export interface OciLabels {
  /** Human-readable title of the image. */
  readonly title?: string;
  readonly description?: string;
  /** URL of the source code (registries link the image to it). */
  readonly source?: string;
  /** URL to find more information on the image. */
  readonly url?: string;
  readonly documentation?: string;
  /** Version of the packaged software. */
  readonly version?: string;
  /** Source control revision (commit). */
  readonly revision?: string;
  /** SPDX license expression, e.g. `MIT` or `Apache-2.0 OR MIT`. */
  readonly licenses?: string;
  readonly vendor?: string;
  /** Contact details of the people or organisation responsible. */
  readonly authors?: string;
  /** Date and time the image was built (RFC 3339). Leave it out for reproducible builds. */
  readonly created?: string;
  readonly ref?: { readonly name: string };
  readonly base?: { readonly name?: string; readonly digest?: string };
}

const OCI_LABEL_FIELDS = optionNames<OciLabels>({
  title: true,
  description: true,
  source: true,
  url: true,
  documentation: true,
  version: true,
  revision: true,
  licenses: true,
  vendor: true,
  authors: true,
  created: true,
  ref: true,
  base: true,
});

/**
 * `org.opencontainers.image.<key>` labels for the given fields (absent ones are left out).
 * @example .label(ociLabels({ title: 'app', source: 'https://github.com/me/app', licenses: 'MIT' }))
 */
export function ociLabels(labels: OciLabels): Record<string, string> {
  checkOptions('ociLabels()', labels, OCI_LABEL_FIELDS);
  const { ref, base, ...plain } = labels;
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(plain)) {
    if (value !== undefined) out[`org.opencontainers.image.${key}`] = value;
  }
  if (ref) out['org.opencontainers.image.ref.name'] = ref.name;
  if (base?.name !== undefined) out['org.opencontainers.image.base.name'] = base.name;
  if (base?.digest !== undefined) out['org.opencontainers.image.base.digest'] = base.digest;
  return out;
}
