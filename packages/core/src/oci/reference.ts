/**
 * Image references with Docker's normalisation (distribution/reference's `ParseNormalizedNamed`):
 *
 * ```
 * reference  := name [ ":" tag ] [ "@" digest ]
 * name       := [ domain "/" ] path-component [ "/" path-component ]*
 * domain     := host [ ":" port ]            host: DNS-like name, IPv4, or "[" IPv6 "]"
 * path-component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
 * tag        := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
 * ```
 *
 * - The first `/`-separated component is a registry when it contains `.` or `:` or is `localhost`;
 *   otherwise the registry is `docker.io`. (Docker also treats an upper-case first component as a
 *   registry; wharf reports it as a lowercase error instead, which is the likelier mistake.)
 * - On `docker.io` (and its legacy alias `index.docker.io`) a one-component repository gets the
 *   `library/` prefix: `node` → `docker.io/library/node`.
 * - Without a tag or digest the tag is `latest`. A reference may have both a tag and a digest; the
 *   digest is what gets pulled, the tag is kept for display.
 * - The name (`registry/repository`) is at most 255 characters; repositories are lowercase.
 */
import { type Digest, parseDigest } from './digest.js';
import { OciError } from './errors.js';

export const DEFAULT_REGISTRY = 'docker.io';
export const DEFAULT_TAG = 'latest';
const LEGACY_DEFAULT_REGISTRY = 'index.docker.io';
const OFFICIAL_PREFIX = 'library/';
/** distribution/reference's NameTotalLengthMax. */
export const MAX_NAME_LENGTH = 255;

const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = new RegExp(
  `^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`,
);
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^\w[\w.-]{0,127}$/;
const IDENTIFIER = /^[a-f0-9]{64}$/;

/** The parts of a normalised reference. */
export interface ParsedReference {
  /** `docker.io`, `ghcr.io`, `localhost:5000`, `[::1]:5000`… */
  readonly registry: string;
  /** `library/node`, `user/repo`, `a/b/c`. */
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: Digest;
}

function invalid(input: string, why: string, hint: string): OciError {
  return new OciError('OCI_INVALID_REFERENCE', `invalid image reference ${JSON.stringify(input)}: ${why}`, {
    hint,
  });
}

/** A parsed, normalised image reference. Immutable. */
export class Reference implements ParsedReference {
  readonly registry: string;
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: Digest;

  constructor(parts: ParsedReference) {
    this.registry = parts.registry;
    this.repository = parts.repository;
    if (parts.tag !== undefined) this.tag = parts.tag;
    if (parts.digest !== undefined) this.digest = parts.digest;
  }

  /** `registry/repository`, e.g. `docker.io/library/node`. */
  get name(): string {
    return `${this.registry}/${this.repository}`;
  }

  /** The full form: `docker.io/library/node:latest`, `ghcr.io/a/b@sha256:…`. */
  toString(): string {
    return `${this.name}${this.tag === undefined ? '' : `:${this.tag}`}${this.digest === undefined ? '' : `@${this.digest}`}`;
  }

  /**
   * The shortest string that parses back to this reference: `docker.io/` and `library/` dropped,
   * `:latest` dropped unless a digest follows. `docker.io/library/node:latest` → `node`.
   */
  familiarName(): string {
    return familiarName(this);
  }

  toJSON(): string {
    return this.toString();
  }

  /** This reference with another tag (the digest is kept). */
  withTag(tag: string): Reference {
    if (!TAG.test(tag)) throw invalid(`${this.name}:${tag}`, `invalid tag "${tag}"`, TAG_HINT);
    return new Reference({ ...this.parts(), tag });
  }

  /** This reference pinned to `digest` (the tag is kept). */
  withDigest(digest: Digest): Reference {
    return new Reference({ ...this.parts(), digest });
  }

  private parts(): ParsedReference {
    return {
      registry: this.registry,
      repository: this.repository,
      ...(this.tag === undefined ? {} : { tag: this.tag }),
      ...(this.digest === undefined ? {} : { digest: this.digest }),
    };
  }
}

const TAG_HINT =
  'a tag is up to 128 characters of letters, digits, "_", "." and "-", not starting with "." or "-"';

/** Parses and normalises an image reference; throws `OCI_INVALID_REFERENCE` naming the input and the fix. */
export function parseReference(input: string): Reference {
  if (input === '')
    throw invalid(input, 'it is empty', 'name an image, e.g. "node:20" or "ghcr.io/org/app:1.0"');
  if (input.trim() !== input || /\s/.test(input)) {
    throw invalid(
      input,
      'it contains whitespace',
      `remove the spaces: ${JSON.stringify(input.replace(/\s+/g, ''))}`,
    );
  }
  if (IDENTIFIER.test(input)) {
    throw invalid(
      input,
      'a 64-character hex string is an image ID, not a repository name',
      `to pin by digest write "<repository>@sha256:${input}"`,
    );
  }

  let rest = input;
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const digestText = rest.slice(at + 1);
    rest = rest.slice(0, at);
    try {
      digest = parseDigest(digestText);
    } catch (cause) {
      const hint = cause instanceof OciError && cause.hint ? cause.hint : 'write "<name>@sha256:<64 hex>"';
      throw new OciError(
        'OCI_INVALID_REFERENCE',
        `invalid image reference ${JSON.stringify(input)}: invalid digest "${digestText}"`,
        {
          hint,
          cause,
        },
      );
    }
  }

  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag))
      throw invalid(input, tag === '' ? 'the tag after ":" is empty' : `invalid tag "${tag}"`, TAG_HINT);
  }
  if (rest === '')
    throw invalid(
      input,
      'the repository name is missing',
      'write "<repository>[:tag][@digest]", e.g. "node:20"',
    );

  const { registry, repository } = splitRegistry(rest);
  if (!DOMAIN.test(registry)) {
    throw invalid(
      input,
      `invalid registry "${registry}"`,
      'a registry is a host name or IP address with an optional :port, e.g. "localhost:5000"',
    );
  }
  if (repository.toLowerCase() !== repository) {
    const fixed = rest.toLowerCase() + input.slice(rest.length);
    throw invalid(input, `repository name "${repository}" must be lowercase`, `use ${JSON.stringify(fixed)}`);
  }
  for (const component of repository.split('/')) {
    if (!PATH_COMPONENT.test(component)) {
      throw invalid(
        input,
        component === ''
          ? 'the repository has an empty path component'
          : `invalid repository path component "${component}"`,
        'path components are lowercase letters and digits, separated inside a component by ".", "_", "__" or dashes',
      );
    }
  }
  const name = `${registry}/${repository}`;
  if (name.length > MAX_NAME_LENGTH) {
    throw invalid(
      input,
      `the name is ${name.length} characters long`,
      `a repository name, registry included, is at most ${MAX_NAME_LENGTH} characters`,
    );
  }
  return new Reference({
    registry,
    repository,
    ...(tag === undefined && digest === undefined ? { tag: DEFAULT_TAG } : tag === undefined ? {} : { tag }),
    ...(digest === undefined ? {} : { digest }),
  });
}

/** The domain rule: a first component with `.` or `:`, or `localhost`, names a registry. */
function looksLikeRegistry(component: string): boolean {
  return component === 'localhost' || component.includes('.') || component.includes(':');
}

/** distribution/reference's `splitDockerDomain`, with the domain rule from the module doc. */
function splitRegistry(name: string): { registry: string; repository: string } {
  const slash = name.indexOf('/');
  let registry = DEFAULT_REGISTRY;
  let repository = name;
  if (slash >= 0) {
    const first = name.slice(0, slash);
    if (looksLikeRegistry(first)) {
      registry = first === LEGACY_DEFAULT_REGISTRY ? DEFAULT_REGISTRY : first;
      repository = name.slice(slash + 1);
    }
  }
  if (registry === DEFAULT_REGISTRY && !repository.includes('/')) repository = OFFICIAL_PREFIX + repository;
  return { registry, repository };
}

/** Formats a reference in full (`docker.io/library/node:latest`). */
export function formatReference(ref: ParsedReference): string {
  return new Reference(ref).toString();
}

/** The shortest form of `ref` that parses back to it (see {@link Reference.familiarName}). */
export function familiarName(ref: ParsedReference): string {
  let name = ref.repository;
  const slash = name.indexOf('/');
  const first = slash < 0 ? name : name.slice(0, slash);
  if (ref.registry === DEFAULT_REGISTRY && !looksLikeRegistry(first)) {
    // Dropping `docker.io/` is only safe when the first path component can't be taken for a registry.
    const official = name.startsWith(OFFICIAL_PREFIX) ? name.slice(OFFICIAL_PREFIX.length) : undefined;
    if (official !== undefined && !official.includes('/')) name = official;
  } else {
    name = `${ref.registry}/${name}`;
  }
  const tag =
    ref.tag === undefined || (ref.tag === DEFAULT_TAG && ref.digest === undefined) ? '' : `:${ref.tag}`;
  return `${name}${tag}${ref.digest === undefined ? '' : `@${ref.digest}`}`;
}
