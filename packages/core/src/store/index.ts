// The public names of `store/`: the content-addressed blob store.

export type { StoreErrorCode } from './errors.js';
export { StoreError } from './errors.js';
export type { Lease, TakeLeaseOptions } from './lease.js';
export { leftByDeadProcess, liveLeases, ownerPid, takeLease } from './lease.js';
export type { BlobInfo, BlobSource, BlobWriter, OpenStoreOptions, PutOptions, ReadOptions } from './store.js';
export { BlobStore, defaultStoreRoot, openStore, TEMP_PREFIX, whileUnused } from './store.js';
