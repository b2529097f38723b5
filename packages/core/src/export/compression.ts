/**
 * Layer compression as the user writes it: `--compression zstd[,level=N]` (or `gzip[,level=N]`) and
 * `compression=zstd,compression-level=N` inside `-o` (BuildKit's keys), resolved to the one
 * compression a build writes. A build has one: outputs that ask for different ones are refused, and a
 * docker-archive never takes one (it holds uncompressed tars, which is what `docker load` of docker
 * 20.10, which cannot read zstd, needs).
 *
 * @example
 * parseCompression('zstd,level=9'); // { format: 'zstd', level: 9 }
 * buildCompression(undefined, [parseOutput('type=oci,dest=out,compression=zstd')]); // { format: 'zstd', level: 3 }
 */
import { type CompressionSpec, normalizeCompression } from '../image/compression.js';
import { ImageError } from '../image/errors.js';
import { ExportError } from './errors.js';
import type { OutputSpec } from './output.js';

function invalid(input: string, what: string, why: string, hint: string): ExportError {
  return new ExportError('EXPORT_INVALID_OUTPUT', `invalid ${what} ${JSON.stringify(input)}: ${why}`, {
    hint,
  });
}

/**
 * `format` and optional `level` checked and completed (`level` as text, from a flag or `-o`).
 * @example compressionOf('zstd', '9', 'compression=zstd,compression-level=9', 'output'); // { format: 'zstd', level: 9 }
 */
export function compressionOf(
  format: string,
  level: string | undefined,
  input: string,
  what: string,
): CompressionSpec {
  const name = format.trim().toLowerCase();
  if (name !== 'gzip' && name !== 'zstd') {
    throw invalid(input, what, `unknown compression "${format}"`, 'use gzip (the default) or zstd');
  }
  if (level !== undefined && !/^\d+$/.test(level.trim())) {
    throw invalid(input, what, `level "${level}" is not a number`, 'write a whole number: zstd,level=3');
  }
  try {
    return normalizeCompression({
      format: name,
      ...(level === undefined ? {} : { level: Number(level.trim()) }),
    });
  } catch (error) {
    if (error instanceof ImageError) throw invalid(input, what, error.message, error.hint ?? '');
    throw error;
  }
}

/**
 * Parses `--compression` text: `gzip`, `zstd`, `zstd,level=N` (throws `EXPORT_INVALID_OUTPUT`).
 * @example parseCompression('zstd,level=9'); // { format: 'zstd', level: 9 }
 */
export function parseCompression(input: string, what = '--compression'): CompressionSpec {
  const [format = '', ...rest] = input.split(',');
  let level: string | undefined;
  for (const field of rest) {
    const eq = field.indexOf('=');
    const key = field.slice(0, eq < 0 ? field.length : eq).trim();
    if (eq < 0 || (key !== 'level' && key !== 'compression-level') || level !== undefined) {
      throw invalid(input, what, `"${field}" is not level=N`, 'write gzip, zstd or zstd,level=N');
    }
    level = field.slice(eq + 1);
  }
  return compressionOf(format, level, input, what);
}

const same = (a: CompressionSpec, b: CompressionSpec) => a.format === b.format && a.level === b.level;

/**
 * The compression a build writes: `flag` (`--compression`, text or a spec) and what the outputs ask
 * for must agree; `undefined` when nothing asks (gzip 6). Throws `EXPORT_INVALID_OUTPUT` when two disagree.
 * @example buildCompression('zstd', [parseOutput('type=registry')]); // { format: 'zstd', level: 3 }
 */
export function buildCompression(
  flag: string | CompressionSpec | undefined,
  outputs: readonly OutputSpec[],
): CompressionSpec | undefined {
  let chosen =
    flag === undefined
      ? undefined
      : typeof flag === 'string'
        ? parseCompression(flag)
        : normalizeCompression(flag);
  let from = '--compression';
  for (const output of outputs) {
    if (output.type === 'docker-archive' || output.compression === undefined) continue;
    if (chosen !== undefined && !same(chosen, output.compression)) {
      throw new ExportError(
        'EXPORT_INVALID_OUTPUT',
        `type=${output.type} asks for ${output.compression.format} level ${output.compression.level}, but ${from} for ${chosen.format} level ${chosen.level}`,
        { hint: 'a build writes one layer compression: give the same compression= to every output' },
      );
    }
    chosen = output.compression;
    from = `type=${output.type}`;
  }
  return chosen;
}
