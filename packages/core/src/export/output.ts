/**
 * `-o`/`--output` in `docker buildx build` syntax: CSV `key=value` pairs (quote a field that holds a
 * comma: `"name=a,b"`), or a bare path.
 *
 * | spec                                   | output                                           |
 * | -------------------------------------- | ------------------------------------------------ |
 * | `type=oci,dest=DIR`                    | OCI image layout directory                       |
 * | `type=oci,dest=FILE,tar=true`          | oci-archive (BuildKit's default for `type=oci`)   |
 * | `type=oci-archive,dest=FILE`           | oci-archive                                      |
 * | `type=docker-archive,dest=FILE`        | docker-archive (`docker load` format)            |
 * | `type=docker,dest=FILE`                | docker-archive (buildx's name for it)            |
 * | `type=registry` / `type=image,push=true` | push to the registry each name (`-t` or `name=`) points at |
 * | `PATH.tar`                             | oci-archive                                      |
 * | `PATH`                                 | OCI image layout directory                       |
 *
 * Differences from buildx, on purpose: `type=oci` without `tar=` writes a directory (BuildKit writes a
 * tar), because wharf has `type=oci-archive` for that; a bare path is an image layout or an
 * oci-archive, never BuildKit's `type=local` (a filesystem export, which wharf does not do).
 * `name=` adds names to those given with `-t`. `compression=gzip|zstd` and `compression-level=N`
 * (BuildKit's keys) choose the layer compression of `oci`, `oci-archive` and `registry` outputs (see
 * compression.ts); a `docker-archive` is always uncompressed and refuses them.
 */
import type { CompressionSpec } from '../image/compression.js';
import { compressionOf } from './compression.js';
import { ExportError } from './errors.js';

export type OutputType = 'oci' | 'oci-archive' | 'docker-archive' | 'registry';

/** `compression=` / `compression-level=` of an output (see compression.ts); a docker-archive takes none. */
interface Compressed {
  readonly compression?: CompressionSpec;
}

/**
 * Where `build()` writes an image: an OCI layout directory, an oci-archive or docker-archive tar, or a
 * registry. `names` (the `-o name=` values) add to the build's `tags`; leave them out to use the tags alone.
 * `compression` chooses the layer compression (gzip by default; a build writes one).
 * @example
 * await build(app, { output: { type: 'oci-archive', dest: 'out/app.tar' }, tags: ['app:1.0'] });
 * await build(app, { output: [{ type: 'oci', dest: 'out/layout' }, 'type=registry'], tags: ['registry.example.com/app:1.0'] });
 */
export type OutputSpec =
  | ({ readonly type: 'oci'; readonly dest: string; readonly names?: readonly string[] } & Compressed)
  | ({ readonly type: 'oci-archive'; readonly dest: string; readonly names?: readonly string[] } & Compressed)
  | { readonly type: 'docker-archive'; readonly dest: string; readonly names?: readonly string[] }
  | ({ readonly type: 'registry'; readonly names?: readonly string[] } & Compressed);

const KNOWN_KEYS = new Set(['type', 'dest', 'name', 'tar', 'push', 'compression', 'compression-level']);

function invalid(input: string, why: string, hint: string): ExportError {
  return new ExportError('EXPORT_INVALID_OUTPUT', `invalid output ${JSON.stringify(input)}: ${why}`, {
    hint,
  });
}

/** Go `encoding/csv` for one line: commas separate, a field starting with `"` is quoted, `""` is a quote. */
export function splitCsv(input: string): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (input[i] === '"') {
      i++;
      for (;;) {
        if (i >= input.length)
          throw invalid(input, 'a quoted field is not closed', 'close the quote: "name=a,b"');
        if (input[i] === '"') {
          if (input[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += input[i];
        i++;
      }
      if (i < input.length && input[i] !== ',') {
        throw invalid(input, 'text after a closing quote', 'quote the whole field: "name=a,b"');
      }
    } else {
      const comma = input.indexOf(',', i);
      field = input.slice(i, comma < 0 ? input.length : comma);
      i = comma < 0 ? input.length : comma;
    }
    fields.push(field);
    if (i >= input.length) return fields;
    i++; // the comma
  }
}

function bool(input: string, key: string, value: string): boolean {
  if (/^(?:true|1)$/i.test(value)) return true;
  if (/^(?:false|0)$/i.test(value)) return false;
  throw invalid(input, `${key}=${value} is not a boolean`, `write ${key}=true or ${key}=false`);
}

/** An `OutputSpec` as `parseOutput` returns it: `names` always present (empty without `name=`). */
export type ParsedOutput = OutputSpec & { readonly names: readonly string[] };

/**
 * Parses one `-o` value (see the module doc); throws `EXPORT_INVALID_OUTPUT` / `EXPORT_UNSUPPORTED`.
 * @example parseOutput('type=oci-archive,dest=out/app.tar') // { type: 'oci-archive', dest: 'out/app.tar', names: [] }
 */
export function parseOutput(input: string): ParsedOutput {
  const text = input.trim();
  if (text === '') throw invalid(input, 'it is empty', 'write type=oci,dest=DIR or a path');
  if (!text.includes('=')) {
    if (text === '-') {
      throw new ExportError('EXPORT_UNSUPPORTED', 'writing an image to stdout (-o -) is not supported yet', {
        hint: 'write to a file: -o type=oci-archive,dest=image.tar',
      });
    }
    return text.endsWith('.tar')
      ? { type: 'oci-archive', dest: text, names: [] }
      : { type: 'oci', dest: text, names: [] };
  }
  const attrs = new Map<string, string>();
  for (const field of splitCsv(text)) {
    const eq = field.indexOf('=');
    if (eq <= 0)
      throw invalid(input, `"${field}" is not key=value`, 'write fields as key=value, separated by commas');
    const key = field.slice(0, eq).trim().toLowerCase();
    const value = field.slice(eq + 1).trim();
    if (!KNOWN_KEYS.has(key)) {
      throw invalid(input, `unknown key "${key}"`, `known keys: ${[...KNOWN_KEYS].join(', ')}`);
    }
    if (attrs.has(key)) throw invalid(input, `"${key}" is given twice`, 'give each key once');
    attrs.set(key, value);
  }
  const type = attrs.get('type');
  const names = (attrs.get('name') ?? '')
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
  const dest = attrs.get('dest');
  const format = attrs.get('compression');
  const level = attrs.get('compression-level');
  if (level !== undefined && format === undefined) {
    throw invalid(input, 'compression-level= needs compression=', 'add compression=zstd (or gzip)');
  }
  const compression =
    format === undefined ? {} : { compression: compressionOf(format, level, input, 'output') };
  if (format !== undefined && (type === 'docker-archive' || type === 'docker')) {
    throw new ExportError(
      'EXPORT_UNSUPPORTED',
      `type=${type} holds uncompressed layers; it takes no compression=`,
      {
        hint: 'drop compression= (docker load needs tars; docker 20.10 cannot read zstd), or use type=oci-archive for zstd layers',
      },
    );
  }
  const needDest = (kind: string): string => {
    if (dest === undefined || dest === '') {
      throw invalid(input, `type=${kind} needs dest=`, `add the destination: type=${kind},dest=PATH`);
    }
    if (dest === '-') {
      throw new ExportError(
        'EXPORT_UNSUPPORTED',
        'writing an image to stdout (dest=-) is not supported yet',
        {
          hint: 'write to a file and stream that',
        },
      );
    }
    return dest;
  };
  switch (type) {
    case 'oci': {
      const tar = attrs.has('tar') ? bool(input, 'tar', attrs.get('tar') as string) : false;
      return { type: tar ? 'oci-archive' : 'oci', dest: needDest('oci'), names, ...compression };
    }
    case 'oci-archive':
      return { type: 'oci-archive', dest: needDest(type), names, ...compression };
    case 'docker-archive':
      return { type: 'docker-archive', dest: needDest(type), names };
    case 'docker':
      if (dest === undefined) {
        throw new ExportError(
          'EXPORT_UNSUPPORTED',
          'loading into the Docker daemon (type=docker without dest) is not supported yet',
          {
            hint: 'write a docker-archive and load it: -o type=docker-archive,dest=image.tar && docker load -i image.tar',
          },
        );
      }
      return { type: 'docker-archive', dest: needDest(type), names };
    case 'registry':
      return { type: 'registry', names, ...compression };
    case 'image':
      if (attrs.has('push') && bool(input, 'push', attrs.get('push') as string))
        return { type: 'registry', names, ...compression };
      throw new ExportError(
        'EXPORT_UNSUPPORTED',
        'type=image without push=true (an image store) is not supported',
        {
          hint: 'use type=registry to push, or type=oci / oci-archive / docker-archive to write files',
        },
      );
    case 'local':
    case 'tar':
      throw new ExportError(
        'EXPORT_UNSUPPORTED',
        `type=${type} exports a filesystem, not an image; wharf writes images`,
        {
          hint: 'use type=oci,dest=DIR, type=oci-archive,dest=FILE or type=docker-archive,dest=FILE',
        },
      );
    case undefined:
      throw invalid(
        input,
        'type= is missing',
        'start with type=oci, oci-archive, docker-archive or registry',
      );
    default:
      throw invalid(input, `unknown type "${type}"`, 'types: oci, oci-archive, docker-archive, registry');
  }
}
