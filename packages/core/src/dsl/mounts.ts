/**
 * RUN --mount values: `cache()`, `bind()`, `secret()`, `ssh()`, `tmpfs()`.
 *
 * @example
 * stage('deps').from('node:20-alpine')
 *   .run('npm ci', { mounts: [cache('/root/.npm', { sharing: 'locked' }), secret('npmrc', { target: '/root/.npmrc' })] })
 */
import type { BindMount, CacheMount, SecretMount, SshMount, TmpfsMount } from '../ir/types.js';
import { MOUNT_BRAND } from './values.js';

/** Anything `copy(from, …)` and `from:` mount options accept besides a plain image reference string. */
export type SourceValue = object;

type WithFrom<M> = Omit<M, 'from' | 'type'> & { readonly from?: SourceValue | string };

export type CacheMountOptions = Omit<WithFrom<CacheMount>, 'target'>;
export type BindMountOptions = Omit<WithFrom<BindMount>, 'target'>;
export type SecretMountOptions = Omit<SecretMount, 'type' | 'id'>;
export type SshMountOptions = Omit<SshMount, 'type'>;
export type TmpfsMountOptions = Omit<TmpfsMount, 'type' | 'target'>;

/** A mount before stage references are resolved to names (that happens in `toGraph`). */
export type MountDraft =
  | ({ readonly type: 'cache'; readonly target: string } & CacheMountOptions)
  | ({ readonly type: 'bind'; readonly target: string } & BindMountOptions)
  | SecretMount
  | SshMount
  | TmpfsMount;

export interface MountValue {
  readonly [MOUNT_BRAND]: true;
  readonly draft: MountDraft;
}

function mount(draft: MountDraft): MountValue {
  return { [MOUNT_BRAND]: true, draft };
}

/** A persistent cache directory (`--mount=type=cache`), kept across builds and never in the image. */
export function cache(target: string, options: CacheMountOptions = {}): MountValue {
  return mount({ type: 'cache', target, ...options });
}

/** Common caches with the ids and paths package managers use. */
cache.npm = (options: CacheMountOptions = {}) => cache('/root/.npm', { id: 'npm', ...options });
cache.apt = (options: CacheMountOptions = {}) =>
  cache('/var/cache/apt', { id: 'apt', sharing: 'locked', ...options });
cache.pip = (options: CacheMountOptions = {}) => cache('/root/.cache/pip', { id: 'pip', ...options });
cache.go = (options: CacheMountOptions = {}) =>
  cache('/root/.cache/go-build', { id: 'go-build', ...options });

/** A read-only bind of the context (or of `from`: a stage, image or context) at `target`. */
export function bind(target: string, options: BindMountOptions = {}): MountValue {
  return mount({ type: 'bind', target, ...options });
}

/** A secret file (default `/run/secrets/<id>`) present only while the step runs. */
export function secret(id: string, options: SecretMountOptions = {}): MountValue {
  return mount({ type: 'secret', id, ...options });
}

/** The SSH agent socket forwarded into the step. */
export function ssh(options: SshMountOptions = {}): MountValue {
  return mount({ type: 'ssh', ...options });
}

/** An empty tmpfs at `target`. */
export function tmpfs(target: string, options: TmpfsMountOptions = {}): MountValue {
  return mount({ type: 'tmpfs', target, ...options });
}

export function isMountValue(value: unknown): value is MountValue {
  return typeof value === 'object' && value !== null && MOUNT_BRAND in value;
}
