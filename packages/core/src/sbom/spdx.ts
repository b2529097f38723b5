/**
 * SPDX 2.3 JSON (https://spdx.github.io/spdx-spec/v2.3/): the image as the described package, each
 * catalogued package CONTAINED by it, each base image as a package the image DESCENDs from.
 */
import { digestHex } from '../oci/index.js';
import type { Catalogue } from './catalogue.js';
import { isSpdxExpression } from './licence.js';
import { ociPurl, type SbomOptions } from './subject.js';

const NOASSERTION = 'NOASSERTION';

interface SpdxPackage {
  SPDXID: string;
  name: string;
  versionInfo: string;
  downloadLocation: string;
  filesAnalyzed: false;
  licenseConcluded: string;
  licenseDeclared: string;
  licenseComments?: string;
  copyrightText: string;
  primaryPackagePurpose?: string;
  sourceInfo?: string;
  externalRefs: { referenceCategory: 'PACKAGE-MANAGER'; referenceType: 'purl'; referenceLocator: string }[];
}

function spdxPackage(id: string, name: string, version: string, locator: string): SpdxPackage {
  return {
    SPDXID: id,
    name,
    versionInfo: version,
    downloadLocation: NOASSERTION,
    filesAnalyzed: false,
    licenseConcluded: NOASSERTION,
    licenseDeclared: NOASSERTION,
    copyrightText: NOASSERTION,
    externalRefs: [
      { referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: locator },
    ],
  };
}

/** SPDX timestamps are UTC to the second: `2024-01-02T03:04:05Z`. */
function spdxTime(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

export function spdxDocument(catalogue: Catalogue, options: SbomOptions): Record<string, unknown> {
  const { subject } = options;
  const image = spdxPackage(
    'SPDXRef-Image',
    subject.name,
    subject.digest,
    ociPurl(subject.name, subject.digest),
  );
  image.primaryPackagePurpose = 'CONTAINER';
  const relationships = [
    { spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: 'SPDXRef-Image' },
  ];
  const bases = (options.bases ?? []).map((base, index) => {
    const pkg = spdxPackage(
      `SPDXRef-Base-${index}`,
      base.reference,
      base.digest,
      ociPurl(base.reference, base.digest),
    );
    pkg.primaryPackagePurpose = 'CONTAINER';
    relationships.push({
      spdxElementId: 'SPDXRef-Image',
      relationshipType: 'DESCENDANT_OF',
      relatedSpdxElement: pkg.SPDXID,
    });
    return pkg;
  });
  const packages = catalogue.packages.map((found, index) => {
    const pkg = spdxPackage(`SPDXRef-Package-${found.type}-${index}`, found.name, found.version, found.purl);
    pkg.primaryPackagePurpose = 'LIBRARY';
    if (found.licence !== undefined) {
      if (isSpdxExpression(found.licence)) pkg.licenseDeclared = found.licence;
      else pkg.licenseComments = `declared: ${found.licence}`;
    }
    pkg.sourceInfo = `${found.path} in layer ${found.layer}`;
    relationships.push({
      spdxElementId: 'SPDXRef-Image',
      relationshipType: 'CONTAINS',
      relatedSpdxElement: pkg.SPDXID,
    });
    return pkg;
  });
  return {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: `${subject.name}@${subject.digest}`,
    // one image digest, one document: the namespace is unique without a random part
    documentNamespace: `https://wharf.dev/spdx/${encodeURIComponent(subject.name)}/${digestHex(subject.digest)}`,
    creationInfo: {
      created: spdxTime(options.created ?? new Date()),
      creators: [`Tool: ${options.tool ?? 'wharf'}`],
    },
    packages: [image, ...bases, ...packages],
    relationships,
  };
}
