// The public names of `lock/`: the wharf.lock format, locking a graph's bases, and pinning a build to them.

export type { LockEntry, LockErrorCode, LockFile } from './file.js';
export {
  EMPTY_LOCK,
  formatLock,
  isLocked,
  LOCK_FILE,
  LockError,
  lockKey,
  MAX_LOCK_BYTES,
  parseLock,
  pinnedReference,
  readLock,
} from './file.js';
export type { GraphReference, GraphReferenceOptions, PinnedGraph } from './graph.js';
export { baseReferences, pinGraph } from './graph.js';
export type { LockBasesOptions, LockChange, LockedGraphOptions } from './locked.js';
export { lockBases, lockedGraph, resolveLockEntry } from './locked.js';
