export { diskReadLink, type OpenedInRoot, openInRoot, resolveOnDisk } from './disk.js';
export {
  type FsutilErrorCode,
  MAX_LINKS,
  PathOutsideRootError,
  pathComponents,
  type ReadLink,
  type ReadLinkSync,
  type ResolveOptions,
  resolveInRoot,
  resolveInRootSync,
} from './resolve.js';
