/** SBOMs: the packages of an image's final file tree, as SPDX 2.3 or CycloneDX 1.6 JSON. */
import type { Image } from '../image/types.js';
import { type Catalogue, catalogueImage } from './catalogue.js';
import { cyclonedxDocument } from './cyclonedx.js';
import { spdxDocument } from './spdx.js';
import type { SbomOptions } from './subject.js';

export type { Catalogue, CataloguedPackage } from './catalogue.js';
export { catalogueImage } from './catalogue.js';
export { cyclonedxDocument } from './cyclonedx.js';
export type { Distro, ParsedPackage } from './parsers.js';
export type { PackageType } from './purl.js';
export { spdxDocument } from './spdx.js';
export type { BaseImage, SbomOptions, SbomSubject } from './subject.js';

export type SbomFormat = 'spdx-json' | 'cyclonedx-json';

/** The media types an SBOM is stored under as an attestation or artifact. */
export const SBOM_MEDIA_TYPES: Readonly<Record<SbomFormat, string>> = {
  'spdx-json': 'application/spdx+json',
  'cyclonedx-json': 'application/vnd.cyclonedx+json',
};

/** The SBOM document of a catalogue, as JSON text. */
export async function sbomDocument(
  catalogue: Catalogue,
  format: SbomFormat,
  options: SbomOptions,
): Promise<string> {
  if (format === 'cyclonedx-json') return cyclonedxDocument(catalogue, options);
  return `${JSON.stringify(spdxDocument(catalogue, options), null, 2)}\n`;
}

/** Catalogues `image` and writes its SBOM (SPDX 2.3 JSON unless `format` says otherwise). */
export async function generateSbom(
  image: Image,
  options: SbomOptions & { readonly format?: SbomFormat },
): Promise<string> {
  return sbomDocument(await catalogueImage(image), options.format ?? 'spdx-json', options);
}
