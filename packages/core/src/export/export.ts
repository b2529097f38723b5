/**
 * Hands an image — or a multi-platform image's index — to the medium an output spec names. No format
 * code lives here: one entry per output type in {@link EXPORTERS}, each a call into layout/, archive/
 * or registry/.
 */
import { writeDockerArchive, writeOciArchive } from '../archive/index.js';
import { type Image, type ImageIndex, isImageIndex } from '../image/index.js';
import { writeLayout } from '../layout/index.js';
import type { Digest } from '../oci/index.js';
import { type PushOptions, type PushResult, pushImage, pushIndex } from '../registry/index.js';
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
  /** The digest of what was exported: the image's manifest, or the index of a multi-platform image. */
  readonly digest: Digest;
  readonly names: readonly string[];
  /** For `type=registry`: the references pushed and what the push sent. */
  readonly pushed?: PushResult;
}

/** What an exporter writes: one image, or the index of a multi-platform image. */
export type Exportable = Image | ImageIndex;

type Exporter<T extends OutputType> = (
  content: Exportable,
  spec: Extract<OutputSpec, { type: T }>,
  names: readonly string[],
  options: ExportOptions,
) => Promise<PushResult | undefined>;

/** The dispatch table: output type → medium. */
export const EXPORTERS: { readonly [T in OutputType]: Exporter<T> } = {
  oci: async (content, spec, names) => {
    await checkOutput(spec);
    await writingTo(spec.dest, () =>
      writeLayout(spec.dest, isImageIndex(content) ? { index: content, names } : { image: content, names }),
    );
    return undefined;
  },
  'oci-archive': async (content, spec, names) => {
    await checkOutput(spec);
    await writingTo(spec.dest, () =>
      writeOciArchive(
        spec.dest,
        isImageIndex(content) ? { index: content, names } : { image: content, names },
      ),
    );
    return undefined;
  },
  'docker-archive': async (content, spec, names) => {
    if (isImageIndex(content)) throw dockerArchiveOfIndex(spec.dest);
    await checkOutput(spec);
    await writingTo(spec.dest, () => writeDockerArchive(spec.dest, { image: content, names }));
    return undefined;
  },
  registry: async (content, _spec, names, options) => {
    if (names.length === 0) {
      throw new ExportError('EXPORT_NO_NAME', 'pushing needs an image name', {
        hint: 'add -t registry.example.com/app:1.0 (or name=… in the -o spec)',
      });
    }
    return isImageIndex(content)
      ? pushIndex(content, names, options.push ?? {})
      : pushImage(content, names, options.push ?? {});
  },
};

/** A docker-archive holds one image per name (`docker load` has no index): several platforms cannot go there. */
export function dockerArchiveOfIndex(dest: string): ExportError {
  return new ExportError(
    'EXPORT_UNSUPPORTED',
    `type=docker-archive,dest=${dest} holds one platform, and this build has several`,
    {
      hint: 'build one platform (--platform linux/amd64) for a docker-archive, or write all of them to type=oci, type=oci-archive or --push',
    },
  );
}

/** Writes `content` (an image, or a multi-platform index) where `output` (a spec or `-o` text) says. */
export async function exportImage(
  content: Exportable,
  output: OutputSpec | string,
  options: ExportOptions = {},
): Promise<ExportResult> {
  const spec = typeof output === 'string' ? parseOutput(output) : output;
  const names = [...new Set([...(options.tags ?? []), ...(spec.names ?? [])])];
  const exporter = EXPORTERS[spec.type] as Exporter<OutputType>;
  const pushed = await exporter(content, spec as never, names, options);
  return {
    type: spec.type,
    ...('dest' in spec ? { dest: spec.dest } : {}),
    digest: await content.digest(),
    names,
    ...(pushed ? { pushed } : {}),
  };
}
