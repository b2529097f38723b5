// The cross-process lock lives in store/ (the blob store's leases use it too); runtime's mounts use it here.
export { acquireLock, alive, type Lock, type LockOptions } from '../store/lock.js';
