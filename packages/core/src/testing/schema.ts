/**
 * The OCI image-spec JSON schemas (draft-04) as a checker for documents wharf writes, following the
 * recipe in `../shared/peer-suites/oci-image-spec/SOURCE.md` (the same setup as test/conformance/oci-schemas.test.ts).
 *
 * ajv is a dev dependency of the repository, not of @wharf/core, so the caller passes its constructor
 * (`import AjvDraft04 from 'ajv-draft-04'; schemaChecker(AjvDraft04.default, suiteDir)`); the schemas
 * are read in place from the peer suite. Docker schema-2 documents are checked against the OCI schema
 * of the same shape (the spec's backwards-compatibility cases do the same).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  isConfig,
  isIndex,
  isManifest,
  MediaType,
  validateConfig,
  validateIndex,
  validateManifest,
} from '../oci/index.js';

/** The few ajv methods used here (ajv 8 with ajv-draft-04). */
export interface AjvLike {
  addFormat(name: string, format: (value: string) => boolean): unknown;
  addSchema(schema: object, key: string): unknown;
  getSchema(key: string): (((data: unknown) => unknown) & { errors?: unknown }) | undefined;
  errorsText(errors?: never): string;
}
export type AjvConstructor = new (options: { strict: boolean; allErrors: boolean }) => AjvLike;

export type SchemaKind = 'manifest' | 'index' | 'config' | 'descriptor' | 'layout';

const FILES: Readonly<Record<SchemaKind, string>> = {
  manifest: 'image-manifest-schema.json',
  index: 'image-index-schema.json',
  config: 'config-schema.json',
  descriptor: 'content-descriptor.json',
  layout: 'image-layout-schema.json',
};
/** The key prefix of each schema {@link loadOciSchemas} registers. */
export const OCI_SCHEMA_BASE = 'https://opencontainers.org/schema/image/';
const BASE = OCI_SCHEMA_BASE;
const URI = /^[A-Za-z][A-Za-z0-9+.-]*:[^\s]*$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;

function stripIds(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripIds);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    if (key === 'id' && typeof item === 'string') continue;
    out[key] = stripIds(item);
  }
  return out;
}

/** The schema kind for a media type (`undefined` for blobs that are not JSON documents). */
export function schemaKindOf(mediaType: string): SchemaKind | undefined {
  if (isManifest(mediaType)) return 'manifest';
  if (isIndex(mediaType)) return 'index';
  if (isConfig(mediaType)) return 'config';
  if (mediaType === MediaType.ociDescriptor) return 'descriptor';
  if (mediaType === MediaType.ociLayoutHeader) return 'layout';
  return undefined;
}

export interface SchemaChecker {
  /** Problems with `bytes` as a `kind` document: JSON, schema and oci/validate rules; empty when valid. */
  check(kind: SchemaKind, bytes: Uint8Array | string): string[];
}

/**
 * An ajv with every schema of `<suiteDir>/schema` registered under `OCI_SCHEMA_BASE + file name`, their
 * `id`s stripped (draft-04 ids clash with the keys) and the two formats they use.
 */
export function loadOciSchemas(Ajv: AjvConstructor, suiteDir: string): AjvLike {
  const ajv = new Ajv({ strict: false, allErrors: true });
  ajv.addFormat('uri', (s) => URI.test(s) && URL.canParse(s));
  ajv.addFormat('date-time', (s) => DATE_TIME.test(s) && !Number.isNaN(Date.parse(s)));
  const dir = join(suiteDir, 'schema');
  for (const file of readdirSync(dir)) {
    if (!file.endsWith('.json')) continue;
    ajv.addSchema(stripIds(JSON.parse(readFileSync(join(dir, file), 'utf8'))) as object, BASE + file);
  }
  return ajv;
}

/** A checker over the schemas in `<suiteDir>/schema` (suiteDir: the `oci-image-spec` peer suite). */
export function schemaChecker(Ajv: AjvConstructor, suiteDir: string): SchemaChecker {
  const ajv = loadOciSchemas(Ajv, suiteDir);
  const dir = join(suiteDir, 'schema');
  return {
    check(kind, bytes) {
      let doc: unknown;
      try {
        doc = JSON.parse(typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8'));
      } catch (error) {
        return [`${kind}: not JSON: ${(error as Error).message}`];
      }
      const validate = ajv.getSchema(BASE + FILES[kind]);
      if (!validate) return [`${kind}: schema ${FILES[kind]} not loaded from ${dir}`];
      const problems: string[] = [];
      if (validate(doc) !== true) problems.push(`${kind}: ${ajv.errorsText(validate.errors as never)}`);
      const rules =
        kind === 'manifest'
          ? validateManifest
          : kind === 'index'
            ? validateIndex
            : kind === 'config'
              ? validateConfig
              : () => [];
      for (const r of rules(doc)) problems.push(`${kind} ${r.path}: ${r.message}`);
      return problems;
    },
  };
}

type Json = { mediaType?: string; digest?: string; manifests?: Json[]; config?: Json; [k: string]: unknown };

/**
 * Checks every JSON document of an OCI image layout directory against the schemas: `oci-layout`,
 * `index.json`, and each manifest, index and config reachable from it. Returns problems (empty when
 * valid) and how many documents were checked.
 */
export function checkLayoutDocuments(
  checker: SchemaChecker,
  dir: string,
): { problems: string[]; checked: number } {
  const problems: string[] = [];
  let checked = 0;
  const check = (kind: SchemaKind, bytes: Uint8Array, where: string) => {
    checked++;
    for (const q of checker.check(kind, bytes)) problems.push(`${where}: ${q}`);
  };
  check('layout', readFileSync(join(dir, 'oci-layout')), 'oci-layout');
  const seen = new Set<string>();
  const visit = (descriptor: Json) => {
    const { mediaType, digest } = descriptor;
    if (typeof mediaType !== 'string' || typeof digest !== 'string' || seen.has(digest)) return;
    const kind = schemaKindOf(mediaType);
    if (!kind) return;
    seen.add(digest);
    const [algorithm, hex] = digest.split(':') as [string, string];
    const bytes = readFileSync(join(dir, 'blobs', algorithm, hex));
    check(kind, bytes, digest);
    const doc = JSON.parse(bytes.toString('utf8')) as Json;
    if (kind === 'manifest' && doc.config) visit(doc.config);
    for (const child of kind === 'index' ? (doc.manifests ?? []) : []) visit(child);
  };
  const indexBytes = readFileSync(join(dir, 'index.json'));
  check('index', indexBytes, 'index.json');
  for (const child of (JSON.parse(indexBytes.toString('utf8')) as Json).manifests ?? []) visit(child);
  return { problems, checked };
}
