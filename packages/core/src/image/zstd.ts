/**
 * zstd for layers, on every Node wharf supports (≥ 20), in one place.
 *
 * - **Reading** (`tar+zstd` base layers): Node's own `zlib.createZstdDecompress` when the engine has it
 *   (Node ≥ 22.15), else the system `zstd` program as a streaming child process (`zstd -d`). Any
 *   decoder gives the same tar, so the choice is speed only.
 * - **Writing** (`--compression zstd`): always the system `zstd` program, `zstd -<level> -T0 --check`,
 *   even where Node has zstd. Compressed bytes are not specified by the format: they depend on the
 *   library version and its parameters (Node's binding writes no checksum unless told, the CLI does), and
 *   they make the layer digest, so one writer everywhere is what keeps a digest the same on every
 *   machine with the same `zstd` version. Multi-threaded output does not depend on the thread count
 *   (`-T1` … `-T8` give the same bytes; `zstd.test.ts` checks), so `-T0` (all cores) is safe.
 *
 * The program is found on `PATH` and run through image/program.ts (an argument array, never a shell,
 * and an empty environment: `ZSTD_CLEVEL`/`ZSTD_NBTHREADS` cannot change the output). A missing program is
 * `IMAGE_UNSUPPORTED_COMPRESSION` with the fix; a failing one (corrupt input, a killed process)
 * `IMAGE_COMPRESSION_FAILED` with its stderr.
 *
 * @example
 * await pipeline(createReadStream('layer.tar'), createZstdCompress({ level: 3 }), createWriteStream('layer.tar.zst'));
 * await pipeline(createReadStream('layer.tar.zst'), createZstdDecompress(), createWriteStream('layer.tar'));
 */
import { execFile } from 'node:child_process';
import type { Duplex, Transform } from 'node:stream';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { ImageError } from './errors.js';
import { findProgram, programStream } from './program.js';

/** zstd's own default level, and BuildKit's for `compression=zstd`. */
export const ZSTD_DEFAULT_LEVEL = 3;
/** The highest level taken (20–22 are zstd's "ultra" levels, with decoder windows up to 128 MiB+). */
export const ZSTD_MAX_LEVEL = 19;

const INSTALL_HINT = 'install zstd (apt install zstd) or use Node ≥ 22.15';

type ZstdZlib = { createZstdDecompress?: (options?: zlib.ZlibOptions) => Transform };

/** Node's zstd decoder, when this engine has one (Node ≥ 22.15). */
function nodeZstdDecompress(): ((options?: zlib.ZlibOptions) => Transform) | undefined {
  return (zlib as unknown as ZstdZlib).createZstdDecompress;
}

/** The absolute path of the `zstd` program on `PATH`, if any (see {@link findProgram}). */
export function zstdProgram(): string | undefined {
  return findProgram('zstd');
}

const versions = new Map<string, Promise<string>>();

/**
 * The version of the `zstd` program that writes layers (`1.5.4`): part of what the bytes depend on,
 * so the engine keys its record of a layer's zstd form by it. Throws like {@link createZstdCompress}.
 */
export async function zstdVersion(): Promise<string> {
  const program = requireProgram('compress layers with zstd', 'install zstd (apt install zstd)');
  let version = versions.get(program);
  if (!version) {
    version = promisify(execFile)(program, ['-V'], { env: {}, timeout: 10_000 }).then(({ stdout }) => {
      const match = /v(\d+\.\d+\.\d+)/.exec(stdout);
      if (!match?.[1]) {
        throw new ImageError(
          'IMAGE_COMPRESSION_FAILED',
          `${program} -V printed no version: ${stdout.trim()}`,
          {
            hint: 'install zstd from your distribution (apt install zstd)',
          },
        );
      }
      return match[1];
    });
    version.catch(() => versions.delete(program));
    versions.set(program, version);
  }
  return version;
}

function requireProgram(what: string, hint: string): string {
  const program = zstdProgram();
  if (program === undefined) {
    throw new ImageError(
      'IMAGE_UNSUPPORTED_COMPRESSION',
      `cannot ${what}: no zstd program on PATH${nodeZstdDecompress() ? '' : ` and Node ${process.versions.node} has no zstd`}`,
      { hint },
    );
  }
  return program;
}

/** Options of {@link createZstdCompress}. */
export interface ZstdCompressOptions {
  /** 1–19; default {@link ZSTD_DEFAULT_LEVEL}. */
  readonly level?: number;
}

/**
 * A stream that zstd-compresses what is written to it, at `level`, with the system `zstd` program
 * (see the module doc for why never Node's). Throws `IMAGE_UNSUPPORTED_COMPRESSION` now when there
 * is no `zstd` on PATH.
 */
export function createZstdCompress(options: ZstdCompressOptions = {}): Duplex {
  const level = options.level ?? ZSTD_DEFAULT_LEVEL;
  if (!Number.isInteger(level) || level < 1 || level > ZSTD_MAX_LEVEL) {
    throw new ImageError('IMAGE_UNSUPPORTED_COMPRESSION', `zstd level ${level} is out of range`, {
      hint: `use a whole number from 1 to ${ZSTD_MAX_LEVEL}`,
    });
  }
  const program = requireProgram('compress layers with zstd', 'install zstd (apt install zstd)');
  return programStream(program, ['-q', '-c', `-${level}`, '-T0', '--check'], {
    failure: compressionFailed('zstd compression'),
  });
}

/** True when zstd layers can be read here: Node's zstd or a `zstd` program on PATH. */
export function canDecompressZstd(): boolean {
  return nodeZstdDecompress() !== undefined || zstdProgram() !== undefined;
}

/** Options of {@link createZstdDecompress}. */
export interface ZstdDecompressOptions {
  /** Names the data in messages (`a zstd layer (application/vnd.oci.image.layer.v1.tar+zstd)`). */
  readonly what?: string;
  /** `'program'`: the system `zstd` even where Node has a decoder (tests, comparisons). Default `'auto'`. */
  readonly via?: 'auto' | 'program';
}

/**
 * A stream that decompresses zstd: Node's decoder when the engine has one, else the system `zstd`
 * program. Throws `IMAGE_UNSUPPORTED_COMPRESSION` now when there is neither, naming the fix.
 */
export function createZstdDecompress(options: ZstdDecompressOptions = {}): Transform | Duplex {
  const what = options.what ?? 'zstd data';
  const native = options.via === 'program' ? undefined : nodeZstdDecompress();
  // 1 MiB output chunks, as for gunzip (image/stream.ts).
  if (native) return native({ chunkSize: 1024 * 1024 });
  const program = requireProgram(`decompress ${what}`, INSTALL_HINT);
  return programStream(program, ['-q', '-d', '-c'], {
    failure: compressionFailed(`zstd decompression of ${what}`),
  });
}

/** The error of a failed zstd run: `IMAGE_COMPRESSION_FAILED` naming `what` and how the program ended. */
function compressionFailed(what: string): (detail: string, cause?: unknown) => Error {
  return (detail, cause) =>
    new ImageError('IMAGE_COMPRESSION_FAILED', `${what} failed: ${detail}`, {
      hint: 'the data is corrupt or truncated, or the zstd program failed; check it with zstd -t',
      ...(cause === undefined ? {} : { cause }),
    });
}
