// The public names of `archive/`: oci-archive and docker-archive tar files as sources and sinks.

export type { DockerArchiveManifest, ReadDockerArchiveOptions } from './docker-archive.js';
export {
  dockerArchiveManifest,
  dockerArchiveStream,
  readDockerArchive,
  repoTag,
  writeDockerArchive,
} from './docker-archive.js';
export type { ArchiveErrorCode } from './errors.js';
export { ArchiveError } from './errors.js';
export type { ArchiveInput, ArchiveResult, OciArchiveInput } from './oci-archive.js';
export { ociArchiveStream, openOciArchive, readOciArchive, writeOciArchive } from './oci-archive.js';
export type { TarEntry } from './tar-index.js';
export { indexTar, openEntry } from './tar-index.js';
export type { TarFile, TarOptions } from './write-tar.js';
export { tarStream, writeTarFile } from './write-tar.js';
