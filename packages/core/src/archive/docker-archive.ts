/**
 * `docker-archive`: the tar that `docker save` writes and `docker load` reads.
 *
 * wharf writes the classic format that every Docker (Debian's 20.10 included), skopeo and podman load:
 *
 * ```
 * <diffID hex>/layer.tar     each layer, uncompressed (directory named after its diffID)
 * <config hex>.json          the config, named after its digest (the image ID)
 * manifest.json              [{"Config":"<hex>.json","RepoTags":["hello:latest"],"Layers":["<hex>/layer.tar",…]}]
 * repositories               {"hello":{"latest":"<top layer dir>"}} (legacy; written when there are tags)
 * ```
 *
 * Docker ≥ 25 also writes an OCI layout (`index.json`, `blobs/sha256/…`) into the same tar; Docker 20.10
 * ignores it, so wharf does not write it. The per-layer `VERSION`/`json` files of the v1 format are not
 * written either (docker load uses manifest.json when present). RepoTags are familiar names with the
 * tag, as Docker writes them: `-t hello` → `hello:latest`, `-t ghcr.io/o/app` → `ghcr.io/o/app:latest`.
 *
 * Layers are streamed uncompressed; a tar header needs the length first, so a compressed layer whose
 * tar length is unknown is decompressed once to count it (`uncompressedSize`), then streamed.
 * Reading accepts both formats (manifest.json is in both), and uncompressed or gzip layer files.
 */
import {
  CONFIG_LIMIT,
  type Image,
  imageFromConfig,
  layerFromOpener,
  MANIFEST_LIMIT,
  type MediaTypeFlavor,
  parseConfig,
  uncompressedSize,
} from '../image/index.js';
import {
  type Digest,
  digestHex,
  encodeJson,
  familiarName,
  MediaType,
  parseReference,
  type Reference,
} from '../oci/index.js';
import { assertRegularEntry, openVerifiedEntry, readSmallEntry } from './entries.js';
import { ArchiveError } from './errors.js';
import { type ArchiveInput, type ArchiveResult, entriesOf } from './oci-archive.js';
import { indexTar, openEntry, peekEntry, type TarEntry } from './tar-index.js';
import { type TarFile, type TarOptions, tarStream, writeTarFile } from './write-tar.js';

/** One entry of `manifest.json`. */
export interface DockerArchiveManifest {
  readonly Config: string;
  readonly RepoTags: readonly string[] | null;
  readonly Layers: readonly string[];
}

/** `hello` → `hello:latest`; a digest-only reference cannot be a RepoTag. */
export function repoTag(name: string | Reference): string {
  const ref = typeof name === 'string' ? parseReference(name) : name;
  if (ref.tag === undefined) {
    throw new ArchiveError(
      'ARCHIVE_INVALID_NAME',
      `${ref.toString()} has no tag; docker-archive names need one`,
      {
        hint: `add a tag, e.g. ${familiarName({ registry: ref.registry, repository: ref.repository })}:latest`,
      },
    );
  }
  return `${familiarName({ registry: ref.registry, repository: ref.repository })}:${ref.tag}`;
}

/** The tar entries of a docker-archive for `input`, in write order, and its manifest.json. */
export async function dockerArchiveFiles(
  input: ArchiveInput,
): Promise<{ manifest: DockerArchiveManifest[]; files: TarFile[] }> {
  const files: TarFile[] = [];
  const written = new Set<string>();
  const manifest: DockerArchiveManifest[] = [];
  const repositories: Record<string, Record<string, string>> = {};
  for (const { image, names = [] } of entriesOf(input)) {
    const [layers, rawConfig, configDescriptor] = await Promise.all([
      image.layers(),
      image.rawConfig(),
      image.configDescriptor(),
    ]);
    const diffIds = parseConfig(rawConfig).rootfs.diff_ids;
    const layerPaths: string[] = [];
    for (const [i, layer] of layers.entries()) {
      const diffId = diffIds[i] as Digest;
      const dir = digestHex(diffId);
      const path = `${dir}/layer.tar`;
      layerPaths.push(path);
      if (written.has(path)) continue;
      written.add(path);
      files.push(
        { name: dir, type: 'directory' },
        {
          name: path,
          size: await uncompressedSize(layer),
          open: () => layer.uncompressed(),
          expected: { digest: diffId, what: `layer ${i + 1} (diffID ${diffId})` },
        },
      );
    }
    const configName = `${digestHex(configDescriptor.digest)}.json`;
    if (!written.has(configName)) {
      written.add(configName);
      files.push({ name: configName, bytes: rawConfig });
    }
    const tags = names.map(repoTag);
    manifest.push({ Config: configName, RepoTags: tags, Layers: layerPaths });
    const top = layerPaths.at(-1)?.split('/')[0];
    for (const tag of tags) {
      if (top === undefined) continue;
      const colon = tag.lastIndexOf(':');
      const repo = tag.slice(0, colon);
      repositories[repo] = { ...repositories[repo], [tag.slice(colon + 1)]: top };
    }
  }
  files.push({ name: 'manifest.json', bytes: encodeJson(manifest) });
  if (Object.keys(repositories).length > 0) {
    files.push({ name: 'repositories', bytes: encodeJson(repositories) });
  }
  return { manifest, files };
}

/** Writes `input` as a docker-archive at `file` (streaming, temp file + rename). */
export async function writeDockerArchive(
  file: string,
  input: ArchiveInput,
  options: TarOptions = {},
): Promise<ArchiveResult & { manifest: DockerArchiveManifest[] }> {
  const { manifest, files } = await dockerArchiveFiles(input);
  const { size } = await writeTarFile(file, files, options);
  return { file, size, manifest };
}

/** The docker-archive of `input` as a stream (for `dest=-` or `docker load` on stdin). */
export async function dockerArchiveStream(input: ArchiveInput, options: TarOptions = {}) {
  return tarStream((await dockerArchiveFiles(input)).files, options);
}

export interface ReadDockerArchiveOptions {
  /** Which image: a tag as written or any reference that normalises to one (`hello` = `hello:latest`). */
  readonly tag?: string;
  /** Which image by position in manifest.json. */
  readonly index?: number;
  /** Media types of the synthesised manifest; default `docker` (where the image came from). */
  readonly flavor?: MediaTypeFlavor;
}

function normalisedTag(tag: string): string | undefined {
  try {
    return parseReference(tag).toString();
  } catch {
    return undefined;
  }
}

/** The parsed `manifest.json` of the docker-archive at `file`. */
export async function dockerArchiveManifest(file: string): Promise<DockerArchiveManifest[]> {
  const entries = await indexTar(file);
  return readManifest(file, entries);
}

async function readManifest(file: string, entries: Map<string, TarEntry>): Promise<DockerArchiveManifest[]> {
  const entry = entries.get('manifest.json');
  if (!entry) {
    throw new ArchiveError('ARCHIVE_MISSING_ENTRY', `${file} has no manifest.json`, {
      hint: 'this is not a docker-archive (an oci-archive has index.json; very old docker save output is not supported)',
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse((await readSmallEntry(file, entry, MANIFEST_LIMIT)).toString('utf8'));
  } catch (cause) {
    if (cause instanceof ArchiveError) throw cause;
    throw new ArchiveError('ARCHIVE_INVALID_MANIFEST', `${file}: manifest.json is not JSON`, { cause });
  }
  const ok =
    Array.isArray(parsed) &&
    parsed.every(
      (m) =>
        m &&
        typeof m.Config === 'string' &&
        Array.isArray(m.Layers) &&
        m.Layers.every((l: unknown) => typeof l === 'string'),
    );
  if (!ok) {
    throw new ArchiveError(
      'ARCHIVE_INVALID_MANIFEST',
      `${file}: manifest.json is not a list of {Config, RepoTags, Layers}`,
      {
        hint: 'the archive is corrupt or was not written by docker save',
      },
    );
  }
  return parsed as DockerArchiveManifest[];
}

/**
 * One image from the docker-archive at `file` (by tag, by position, or the only one). The config is
 * read now; layers are streamed from the tar on demand, with diffIDs from the config; uncompressed
 * layer files make digest = diffID (no hashing needed), gzip ones are measured once when asked.
 */
export async function readDockerArchive(
  file: string,
  options: ReadDockerArchiveOptions = {},
): Promise<Image> {
  const entries = await indexTar(file);
  const manifest = await readManifest(file, entries);
  let chosen: DockerArchiveManifest | undefined;
  if (options.tag !== undefined) {
    const want = normalisedTag(options.tag);
    chosen = manifest.find((m) =>
      (m.RepoTags ?? []).some((t) => t === options.tag || (want !== undefined && normalisedTag(t) === want)),
    );
    if (!chosen) {
      const tags = manifest.flatMap((m) => m.RepoTags ?? []);
      throw new ArchiveError('ARCHIVE_NOT_FOUND', `no image tagged ${options.tag} in ${file}`, {
        hint: tags.length ? `tags present: ${tags.join(', ')}` : 'the archive has no tags; pick one by index',
      });
    }
  } else if (options.index !== undefined) {
    chosen = manifest[options.index];
    if (!chosen)
      throw new ArchiveError(
        'ARCHIVE_NOT_FOUND',
        `${file} has ${manifest.length} images, no #${options.index}`,
      );
  } else {
    if (manifest.length !== 1) {
      throw new ArchiveError('ARCHIVE_AMBIGUOUS', `${file} holds ${manifest.length} images; which one?`, {
        hint: `pass a tag (${manifest.flatMap((m) => m.RepoTags ?? []).join(', ') || 'none tagged'}) or an index`,
      });
    }
    chosen = manifest[0] as DockerArchiveManifest;
  }
  const entry = (name: string): TarEntry => {
    const found = entries.get(name.replace(/^\.\//, ''));
    if (!found) {
      throw new ArchiveError('ARCHIVE_MISSING_ENTRY', `${file} has no ${name}, which manifest.json lists`, {
        hint: 'the archive is incomplete; save it again',
      });
    }
    return found;
  };
  const rawConfig = new Uint8Array(await readSmallEntry(file, entry(chosen.Config), CONFIG_LIMIT));
  const diffIds = parseConfig(rawConfig).rootfs.diff_ids;
  if (diffIds.length !== chosen.Layers.length) {
    throw new ArchiveError(
      'ARCHIVE_INVALID_MANIFEST',
      `${file}: ${chosen.Config} lists ${diffIds.length} diff_ids but manifest.json ${chosen.Layers.length} layers`,
      { hint: 'the archive is inconsistent; save it again' },
    );
  }
  const flavor = options.flavor ?? 'docker';
  const layers = await Promise.all(
    chosen.Layers.map(async (path, i) => {
      const e = entry(path);
      assertRegularEntry(file, e);
      const magic = await peekEntry(file, e, 2);
      const gzip = magic[0] === 0x1f && magic[1] === 0x8b;
      const mediaType = gzip
        ? flavor === 'docker'
          ? MediaType.dockerLayerGzip
          : MediaType.ociLayerGzip
        : flavor === 'docker'
          ? MediaType.dockerLayer
          : MediaType.ociLayer;
      const diffId = diffIds[i] as Digest;
      // A tar layer file must be the tar its diffID names: verified before any byte is read out. A gzip
      // one is measured (digest, diffID checked) the first time its digest is asked for.
      const what = `layer ${i + 1} (${path}, diffID ${diffId}) in ${file}`;
      const opener = gzip
        ? async () => openEntry(file, e)
        : () => openVerifiedEntry(file, e, { digest: diffId, size: e.size, what });
      return layerFromOpener(opener, {
        mediaType,
        diffId,
        ...(gzip ? { size: e.size } : { digest: diffId, size: e.size, uncompressedSize: e.size }),
      });
    }),
  );
  return imageFromConfig({ rawConfig, layers, flavor });
}
