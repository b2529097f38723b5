/**
 * Checks the OCI JSON schemas cannot express but the reference validator (image-spec's Go `schema`
 * package) applies. Run these *and* the schemas; together they reproduce upstream's verdicts:
 *
 * 1. `config.Env` entries are `KEY=VALUE` (`^[^=]+=.*$`).
 * 2. Digests of registered algorithms are exact: sha256 is 64 and sha512 128 lowercase hex characters
 *    (other algorithms, like `sha256+b64u`, only need the schema's general pattern). Upstream checks
 *    this for a descriptor validated on its own; wharf applies it to nested descriptors and to
 *    `rootfs.diff_ids` too, since a registry would reject those digests anyway.
 * 3. A descriptor's `data` is standard base64 *with* padding.
 *
 * The functions take parsed JSON of unknown shape, skip what is not there (shape errors are the
 * schemas' job) and return problems as `{ path, message }` with `path` a JSON pointer; an empty list
 * means the document passes these checks.
 */
import { isWellFormedDigest } from './digest.js';

export interface ValidationProblem {
  /** JSON pointer to the offending value, e.g. `/config/Env/0`. */
  readonly path: string;
  readonly message: string;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const PADDED_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const ENV_ENTRY = /^[^=]+=/;

function checkDigest(value: unknown, path: string, problems: ValidationProblem[]): void {
  if (typeof value === 'string' && !isWellFormedDigest(value)) {
    problems.push({
      path,
      message: `digest ${JSON.stringify(value)} is malformed (sha256 needs 64 and sha512 128 lowercase hex characters)`,
    });
  }
}

function checkDescriptor(doc: unknown, path: string, problems: ValidationProblem[]): void {
  if (!isObject(doc)) return;
  checkDigest(doc.digest, `${path}/digest`, problems);
  if (typeof doc.data === 'string' && !PADDED_BASE64.test(doc.data)) {
    problems.push({ path: `${path}/data`, message: 'data is not standard base64 with padding' });
  }
}

function checkDescriptors(list: unknown, path: string, problems: ValidationProblem[]): void {
  if (!Array.isArray(list)) return;
  list.forEach((item, i) => {
    checkDescriptor(item, `${path}/${i}`, problems);
  });
}

/** Rules 2 and 3 for a content descriptor on its own. */
export function validateDescriptor(doc: unknown): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  checkDescriptor(doc, '', problems);
  return problems;
}

/** Rules 2 and 3 for the config, layers and subject of an image manifest. */
export function validateManifest(doc: unknown): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  if (!isObject(doc)) return problems;
  checkDescriptor(doc.config, '/config', problems);
  checkDescriptors(doc.layers, '/layers', problems);
  checkDescriptor(doc.subject, '/subject', problems);
  return problems;
}

/** Rules 2 and 3 for the manifests and subject of an image index. */
export function validateIndex(doc: unknown): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  if (!isObject(doc)) return problems;
  checkDescriptors(doc.manifests, '/manifests', problems);
  checkDescriptor(doc.subject, '/subject', problems);
  return problems;
}

/** Rule 1 for `config.Env`, rule 2 for `rootfs.diff_ids`. */
export function validateConfig(doc: unknown): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  if (!isObject(doc)) return problems;
  const env = isObject(doc.config) ? doc.config.Env : undefined;
  if (Array.isArray(env)) {
    env.forEach((entry, i) => {
      if (typeof entry === 'string' && !ENV_ENTRY.test(entry)) {
        problems.push({
          path: `/config/Env/${i}`,
          message: `Env entry ${JSON.stringify(entry)} is not KEY=VALUE`,
        });
      }
    });
  }
  const diffIds = isObject(doc.rootfs) ? doc.rootfs.diff_ids : undefined;
  if (Array.isArray(diffIds)) {
    diffIds.forEach((id, i) => {
      checkDigest(id, `/rootfs/diff_ids/${i}`, problems);
    });
  }
  return problems;
}
