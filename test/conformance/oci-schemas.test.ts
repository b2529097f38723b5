/**
 * Validates documents against the OCI image-spec JSON schemas and the upstream validator's verdicts,
 * read from the peer suite `oci-image-spec/` (see its SOURCE.md for
 * the ajv recipe). Nothing from there is copied into this repository.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import AjvDraft04 from 'ajv-draft-04';
import { describe, expect, it } from 'vitest';
import { parseDigest, sha256Digest } from '../../packages/core/src/oci/digest.js';
import { EMPTY_DESCRIPTOR, encodeDocument } from '../../packages/core/src/oci/json.js';
import { MediaType } from '../../packages/core/src/oci/media-types.js';
import { parsePlatform } from '../../packages/core/src/oci/platform.js';
import type {
  ImageConfig,
  ImageIndex,
  ImageLayout,
  ImageManifest,
} from '../../packages/core/src/oci/types.js';
import {
  type ValidationProblem,
  validateConfig,
  validateDescriptor,
  validateIndex,
  validateManifest,
} from '../../packages/core/src/oci/validate.js';
import { loadOciSchemas, OCI_SCHEMA_BASE } from '../../packages/core/src/testing/schema.js';
import { peerSuite } from './peer-suites.js';

const SUITE = peerSuite('oci-image-spec');
const BASE = OCI_SCHEMA_BASE;

type SchemaFile =
  | 'image-manifest-schema.json'
  | 'image-index-schema.json'
  | 'config-schema.json'
  | 'content-descriptor.json'
  | 'image-layout-schema.json';

const RULES: Record<SchemaFile, (doc: unknown) => ValidationProblem[]> = {
  'image-manifest-schema.json': validateManifest,
  'image-index-schema.json': validateIndex,
  'config-schema.json': validateConfig,
  'content-descriptor.json': validateDescriptor,
  'image-layout-schema.json': () => [],
};

const ajv = loadOciSchemas(AjvDraft04.default, SUITE);

function schemaValid(schema: SchemaFile, doc: unknown): { valid: boolean; errors: string } {
  const validate = ajv.getSchema(BASE + schema);
  if (!validate) throw new Error(`schema ${schema} not registered`);
  const valid = validate(doc) === true;
  return { valid, errors: ajv.errorsText(validate.errors as never) };
}

/** Schema and wharf's rules together; a parse failure is a failure. */
function verdict(schema: SchemaFile, text: string): { valid: boolean; schemaOnly: boolean; why: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    return { valid: false, schemaOnly: false, why: `JSON: ${(error as Error).message}` };
  }
  const s = schemaValid(schema, doc);
  const problems = RULES[schema](doc);
  return {
    valid: s.valid && problems.length === 0,
    schemaOnly: s.valid,
    why: [s.errors, ...problems.map((p) => `${p.path}: ${p.message}`)].join('; '),
  };
}

interface GoCase {
  id: string;
  schema: SchemaFile;
  expectFail: boolean;
  ajvDraft04Valid: boolean;
  nonSchemaRule?: string;
  preprocess?: 'dockerToOciMediaTypes';
  sha256OfDocumentAsWritten?: string;
  document: string;
}

const DOCKER_TO_OCI: ReadonlyArray<readonly [string, string]> = [
  [MediaType.dockerManifestList, MediaType.ociIndex],
  [MediaType.dockerManifest, MediaType.ociManifest],
  [MediaType.dockerLayerGzip, MediaType.ociLayerGzip],
  [MediaType.dockerConfig, MediaType.ociConfig],
];

const cases = JSON.parse(readFileSync(join(SUITE, 'cases', 'go-test-cases.json'), 'utf8')) as GoCase[];

describe('OCI image-spec Go test cases (schema + validate.ts rules)', () => {
  it('has the 71 documents SOURCE.md describes', () => {
    expect(cases).toHaveLength(71);
    expect(cases.filter((c) => c.expectFail)).toHaveLength(40);
    expect(cases.filter((c) => c.nonSchemaRule)).toHaveLength(3);
  });

  it.each(cases.map((c) => [c.id, c] as const))('%s', (_id, c) => {
    let text = c.document;
    if (c.preprocess === 'dockerToOciMediaTypes') {
      for (const [from, to] of DOCKER_TO_OCI) text = text.replaceAll(from, to);
    }
    const v = verdict(c.schema, text);
    expect(v.valid, v.why).toBe(!c.expectFail);
    // Our ajv setup agrees with the recipe's recorded schema-only result.
    expect(v.schemaOnly).toBe(c.ajvDraft04Valid);
    if (c.nonSchemaRule) expect(v.schemaOnly).toBe(true);
    if (c.sha256OfDocumentAsWritten) {
      expect(sha256Digest(c.document)).toBe(c.sha256OfDocumentAsWritten);
    }
  });
});

interface SpecExample {
  file: string;
  title: string;
  schema: SchemaFile;
  expectFail: boolean;
}

const examples = JSON.parse(
  readFileSync(join(SUITE, 'spec-examples', 'index.json'), 'utf8'),
) as SpecExample[];

describe('OCI image-spec examples', () => {
  it('lists 13 examples', () => {
    expect(examples).toHaveLength(13);
  });

  it.each(examples.map((e) => [e.file, e] as const))('%s', (_file, e) => {
    const v = verdict(e.schema, readFileSync(join(SUITE, e.file), 'utf8'));
    expect(v.valid, v.why).toBe(!e.expectFail);
  });
});

describe('documents wharf builds validate', () => {
  const layer = {
    mediaType: MediaType.ociLayerGzip,
    digest: parseDigest(`sha256:${'1'.repeat(64)}`),
    size: 1234,
  };
  const config: ImageConfig = {
    created: '2024-01-02T03:04:05Z',
    architecture: 'arm64',
    os: 'linux',
    config: {
      User: 'app',
      ExposedPorts: { '8080/tcp': {} },
      Env: ['PATH=/usr/local/bin:/usr/bin:/bin', 'EMPTY='],
      Entrypoint: ['/bin/app'],
      Cmd: null,
      WorkingDir: '/app',
      Labels: { 'org.opencontainers.image.source': 'https://example.com/app' },
      StopSignal: 'SIGTERM',
      ArgsEscaped: true,
      Healthcheck: {
        Test: ['CMD-SHELL', 'true'],
        Interval: 30e9,
        Timeout: 5e9,
        StartPeriod: 0,
        StartInterval: 5e9,
        Retries: 3,
      },
      OnBuild: ['RUN echo hi'],
      Shell: ['/bin/sh', '-c'],
    },
    rootfs: { type: 'layers', diff_ids: [parseDigest(`sha256:${'2'.repeat(64)}`)] },
    history: [
      { created: '2024-01-02T03:04:05Z', created_by: 'COPY . /app # buildkit', comment: 'wharf' },
      { empty_layer: true },
    ],
  };
  const configDoc = encodeDocument(MediaType.ociConfig, config);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: configDoc.descriptor,
    layers: [layer],
    annotations: { 'org.opencontainers.image.created': '2024-01-02T03:04:05Z' },
  };
  const manifestDoc = encodeDocument(MediaType.ociManifest, manifest, {
    platform: parsePlatform('linux/arm64'),
  });
  const emptyManifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    artifactType: 'application/vnd.example+type',
    config: EMPTY_DESCRIPTOR,
    layers: [EMPTY_DESCRIPTOR],
    subject: manifestDoc.descriptor,
  };
  const index: ImageIndex = {
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: [manifestDoc.descriptor, encodeDocument(MediaType.ociManifest, emptyManifest).descriptor],
  };
  const layout: ImageLayout = { imageLayoutVersion: '1.0.0' };

  it.each([
    ['config', 'config-schema.json', encodeDocument(MediaType.ociConfig, config).bytes],
    ['manifest', 'image-manifest-schema.json', manifestDoc.bytes],
    [
      'artifact manifest with the empty descriptor',
      'image-manifest-schema.json',
      encodeDocument(MediaType.ociManifest, emptyManifest).bytes,
    ],
    ['index', 'image-index-schema.json', encodeDocument(MediaType.ociIndex, index).bytes],
    [
      'descriptor',
      'content-descriptor.json',
      encodeDocument(MediaType.ociDescriptor, manifestDoc.descriptor).bytes,
    ],
    ['oci-layout', 'image-layout-schema.json', encodeDocument(MediaType.ociLayoutHeader, layout).bytes],
  ] as const)('%s', (_name, schema, bytes) => {
    const v = verdict(schema, Buffer.from(bytes).toString('utf8'));
    expect(v.valid, v.why).toBe(true);
  });

  it('the rules catch what the schemas let through', () => {
    expect(validateConfig({ ...config, config: { Env: ['NOVALUE'] } })).toEqual([
      { path: '/config/Env/0', message: 'Env entry "NOVALUE" is not KEY=VALUE' },
    ]);
    expect(
      validateManifest({ ...manifest, layers: [{ ...layer, digest: `sha256:${'A'.repeat(64)}` }] })[0]?.path,
    ).toBe('/layers/0/digest');
    expect(validateIndex({ manifests: [{ ...layer, data: 'e30' }] })[0]?.path).toBe('/manifests/0/data');
    expect(validateDescriptor({ ...layer, data: 'e30=' })).toEqual([]);
    expect(validateConfig({ rootfs: { diff_ids: ['sha512:abc'] } })[0]?.path).toBe('/rootfs/diff_ids/0');
  });
});
