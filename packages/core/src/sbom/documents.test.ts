// SPDX and CycloneDX documents. No npm package ships the SPDX 2.3 JSON schema, so the SPDX document is
// checked with ajv against the spec's required fields and formats (below, from spdx-spec v2.3 chapters
// 6-7 and 11); the CycloneDX document is checked by the library's own strict JSON validator (1.6 schema).
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { emptyImage } from '../image/empty.js';
import { appendLayers } from '../image/mutate.js';
import { sha256Digest } from '../oci/index.js';
import { fileLayer } from '../testing/index.js';
import type { Catalogue } from './catalogue.js';
import { generateSbom, sbomDocument } from './index.js';
import { isSpdxExpression } from './licence.js';

const id = { type: 'string', pattern: '^SPDXRef-[A-Za-z0-9.-]+$' };
const spdx23 = {
  type: 'object',
  required: ['spdxVersion', 'dataLicense', 'SPDXID', 'name', 'documentNamespace', 'creationInfo'],
  properties: {
    spdxVersion: { const: 'SPDX-2.3' },
    dataLicense: { const: 'CC0-1.0' },
    SPDXID: { const: 'SPDXRef-DOCUMENT' },
    name: { type: 'string', minLength: 1 },
    documentNamespace: { type: 'string', pattern: '^[a-z][a-z0-9+.-]*://[^#\\s]+$' },
    creationInfo: {
      type: 'object',
      required: ['created', 'creators'],
      properties: {
        created: { type: 'string', pattern: '^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$' },
        creators: {
          type: 'array',
          minItems: 1,
          items: { type: 'string', pattern: '^(Person|Organization|Tool): .+' },
        },
      },
    },
    packages: {
      type: 'array',
      items: {
        type: 'object',
        required: ['SPDXID', 'name', 'downloadLocation'],
        properties: {
          SPDXID: id,
          name: { type: 'string', minLength: 1 },
          filesAnalyzed: { type: 'boolean' },
          primaryPackagePurpose: {
            enum: [
              'APPLICATION',
              'FRAMEWORK',
              'LIBRARY',
              'CONTAINER',
              'OPERATING-SYSTEM',
              'DEVICE',
              'FIRMWARE',
              'SOURCE',
              'ARCHIVE',
              'FILE',
              'INSTALL',
              'OTHER',
            ],
          },
          externalRefs: {
            type: 'array',
            items: {
              type: 'object',
              required: ['referenceCategory', 'referenceType', 'referenceLocator'],
              properties: {
                referenceCategory: { enum: ['SECURITY', 'PACKAGE-MANAGER', 'PERSISTENT-ID', 'OTHER'] },
                referenceLocator: { type: 'string', pattern: '^pkg:[a-z]+/' },
              },
            },
          },
        },
      },
    },
    relationships: {
      type: 'array',
      items: {
        type: 'object',
        required: ['spdxElementId', 'relationshipType', 'relatedSpdxElement'],
        properties: {
          spdxElementId: { type: 'string' },
          relatedSpdxElement: { type: 'string' },
          relationshipType: { enum: ['DESCRIBES', 'CONTAINS', 'DESCENDANT_OF', 'DEPENDS_ON'] },
        },
      },
    },
  },
};

const catalogue: Catalogue = {
  distro: undefined,
  packages: [
    {
      type: 'npm',
      name: '@scope/a',
      version: '1.0.0',
      purl: 'pkg:npm/%40scope/a@1.0.0',
      licence: 'MIT OR Apache-2.0',
      layer: sha256Digest('l1'),
      path: '/app/node_modules/@scope/a/package.json',
    },
    {
      type: 'deb',
      name: 'bash',
      version: '5.2',
      purl: 'pkg:deb/debian/bash@5.2',
      layer: sha256Digest('l0'),
      path: '/var/lib/dpkg/status',
    },
    {
      type: 'apk',
      name: 'musl',
      version: '1',
      purl: 'pkg:apk/alpine/musl@1',
      licence: 'BSD-like free text',
      layer: sha256Digest('l0'),
      path: '/lib/apk/db/installed',
    },
  ],
};
const options = {
  subject: { name: '127.0.0.1:5000/app', digest: sha256Digest('manifest') },
  bases: [{ reference: 'debian:12', digest: sha256Digest('base') }],
  created: new Date('2024-01-02T03:04:05.678Z'),
  tool: 'wharf-0.1.0',
};

describe('SBOM documents', () => {
  it('SPDX 2.3: required fields, packages with purls, the image DESCRIBED, bases as DESCENDANT_OF', async () => {
    const text = await sbomDocument(catalogue, 'spdx-json', options);
    const doc = JSON.parse(text);
    const ajv = new Ajv({ allErrors: true, strict: false });
    const validate = ajv.compile(spdx23);
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
    expect(doc.creationInfo.created).toBe('2024-01-02T03:04:05Z');
    const byName = Object.fromEntries(doc.packages.map((p: { name: string }) => [p.name, p]));
    expect(byName['@scope/a'].licenseDeclared).toBe('MIT OR Apache-2.0');
    expect(byName.musl.licenseDeclared).toBe('NOASSERTION');
    expect(byName.musl.licenseComments).toBe('declared: BSD-like free text');
    expect(byName['debian:12'].versionInfo).toBe(options.bases[0]?.digest);
    expect(doc.relationships).toContainEqual({
      spdxElementId: 'SPDXRef-Image',
      relationshipType: 'DESCENDANT_OF',
      relatedSpdxElement: 'SPDXRef-Base-0',
    });
    const ids = doc.packages.map((p: { SPDXID: string }) => p.SPDXID);
    expect(new Set(ids).size).toBe(ids.length);
    // deterministic for the same input
    expect(await sbomDocument(catalogue, 'spdx-json', options)).toBe(text);
  });

  it('CycloneDX 1.6 passes the library’s strict validator', async () => {
    const text = await sbomDocument(catalogue, 'cyclonedx-json', options);
    const validator = new Validation.JsonStrictValidator(Spec.Version.v1dot6);
    expect(await validator.validate(text)).toBeNull();
    const doc = JSON.parse(text);
    expect(doc.specVersion).toBe('1.6');
    expect(doc.metadata.component.version).toBe(options.subject.digest);
    const musl = doc.components.find((c: { name: string }) => c.name === 'musl');
    expect(musl.licenses).toEqual([{ license: { name: 'BSD-like free text' } }]);
  }, 30_000); // the CycloneDX library and its ajv load here (the SPDX documents need only its id list)

  it('generateSbom catalogues and writes in one call', async () => {
    const layer = await fileLayer({
      'node_modules/ms/package.json': JSON.stringify({ name: 'ms', version: '2.1.3' }),
    });
    const doc = JSON.parse(await generateSbom(appendLayers(emptyImage(), layer), options));
    expect(doc.packages.map((p: { name: string }) => p.name)).toEqual([
      options.subject.name,
      'debian:12',
      'ms',
    ]);
  });
});

describe('isSpdxExpression', () => {
  it.each([
    ['MIT', true],
    ['(MIT OR Apache-2.0) AND BSD-3-Clause', true],
    ['GPL-2.0-or-later WITH Classpath-exception-2.0', true],
    ['LicenseRef-custom', true],
    ['GPL-2.0+', true],
    ['BSD-like', false],
    ['MIT OR', false],
    ['(MIT', false],
    ['', false],
    ['Apache 2.0', false],
  ])('%s → %s', (text, valid) => {
    expect(isSpdxExpression(text)).toBe(valid);
  });
});
