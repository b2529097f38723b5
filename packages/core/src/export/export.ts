/**
 * Hands an image to the medium an output spec names. No format code lives here: one entry per output
 * type in {@link EXPORTERS}, each a call into layout/ or archive/ (or, later, registry/).
 */
import { writeDockerArchive, writeOciArchive } from '../archive/index.js';
import type { Image } from '../image/index.js';
import { writeLayout } from '../layout/index.js';
import type { Digest } from '../oci/index.js';
import { type PushOptions, pushImage } from '../registry/index.js';
import { checkOutput, writingTo } from './destination.js';
import { ExportError } from './errors.js';
import { type OutputSpec, type OutputType, parseOutput } from './output.js';

export interface ExportOptions {
  /** Image names (`-t`), added to the spec's `name=` values. */
  readonly tags?: readonly string[];
  /** For `type=registry`: registry settings, credentials, upload sessions, progress. */
  readonly push?: PushOptions;
}

export interface ExportResult {
  readonly type: OutputType;
  /** The file or directory written. */
  readonly dest?: string;
  /** The manifest digest of the exported image. */
  readonly digest: Digest;
  readonly names: readonly string[];
}

type Exporter<T extends OutputType> = (
  image: Image,
  spec: Extract<OutputSpec, { type: T }>,
  names: readonly string[],
  options: ExportOptions,
) => Promise<void>;

/** The dispatch table: output type → medium. */
export const EXPORTERS: { readonly [T in OutputType]: Exporter<T> } = {
  oci: async (image, spec, names) => {
    await checkOutput(spec);
    await writingTo(spec.dest, () => writeLayout(spec.dest, { image, names }));
  },
  'oci-archive': async (image, spec, names) => {
    await checkOutput(spec);
    await writingTo(spec.dest, () => writeOciArchive(spec.dest, { image, names }));
  },
  'docker-archive': async (image, spec, names) => {
    await checkOutput(spec);
    await writingTo(spec.dest, () => writeDockerArchive(spec.dest, { image, names }));
  },
  registry: async (image, _spec, names, options) => {
    if (names.length === 0) {
      throw new ExportError('EXPORT_NO_NAME', 'pushing needs an image name', {
        hint: 'add -t registry.example.com/app:1.0 (or name=… in the -o spec)',
      });
    }
    await pushImage(image, names, options.push ?? {});
  },
};

/** Writes `image` where `output` (a spec or `-o` text) says. */
export async function exportImage(
  image: Image,
  output: OutputSpec | string,
  options: ExportOptions = {},
): Promise<ExportResult> {
  const spec = typeof output === 'string' ? parseOutput(output) : output;
  const names = [...new Set([...(options.tags ?? []), ...(spec.names ?? [])])];
  const exporter = EXPORTERS[spec.type] as Exporter<OutputType>;
  await exporter(image, spec as never, names, options);
  return {
    type: spec.type,
    ...('dest' in spec ? { dest: spec.dest } : {}),
    digest: await image.digest(),
    names,
  };
}
