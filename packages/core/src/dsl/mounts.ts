/**
 * RUN --mount values: `cache()`, `bind()`, `secret()`, `ssh()`, `tmpfs()`.
 *
 * @example
 * stage('deps').from('node:20-alpine')
 *   .run('npm ci', { mounts: [cache('/root/.npm', { sharing: 'locked' }), secret('npmrc', { target: '/root/.npmrc' })] })
 */

import { WharfError } from '../errors.js';
import type { BindMount, CacheMount, SecretMount, SshMount, TmpfsMount } from '../ir/types.js';
import type { Stage } from './stage.js';
import { checkOptions, optionNames } from './usage.js';
import { type ContextValue, type ImageValue, MOUNT_BRAND } from './values.js';

/** What `copy(from, …)` and the `from:` of cache and bind mounts read from, besides an image reference string. */
export type SourceValue = Stage | ImageValue | ContextValue;

type WithFrom<M> = Omit<M, 'from' | 'type'> & {
  /** A stage, `image()` or `context()` value (or an image reference) to read from, with `source` a path in it. */
  readonly from?: SourceValue | string;
};

/** Options of `cache()` and its presets: `id`, `sharing`, `from`/`source` to seed it, owner and mode. */
export type CacheMountOptions = Omit<WithFrom<CacheMount>, 'target'>;
/** Options of `bind()`: `from` (default the build context), `source` in it, `readwrite`. */
export type BindMountOptions = Omit<WithFrom<BindMount>, 'target'>;
/** Options of `secret()`: `target` file or `env` variable, `required`, owner and mode. */
export type SecretMountOptions = Omit<SecretMount, 'type' | 'id'>;
/** Options of `ssh()`: the agent `id`, socket `target`, `required`, owner and mode. */
export type SshMountOptions = Omit<SshMount, 'type'>;
/** Options of `tmpfs()`: its `size` in bytes. */
export type TmpfsMountOptions = Omit<TmpfsMount, 'type' | 'target'>;

/** A mount before stage references are resolved to names (that happens in `toGraph`). */
export type MountDraft =
  | ({ readonly type: 'cache'; readonly target: string } & CacheMountOptions)
  | ({ readonly type: 'bind'; readonly target: string } & BindMountOptions)
  | SecretMount
  | SshMount
  | TmpfsMount;

/**
 * A `RUN --mount` value, made by `cache()`, `bind()`, `secret()`, `ssh()`, `tmpfs()` or a cache preset.
 * @example const mounts: MountValue[] = [cache.npm(), secret('npmrc', { target: '/root/.npmrc' })];
 */
export interface MountValue {
  readonly [MOUNT_BRAND]: true;
  readonly draft: MountDraft;
}

const CACHE_OPTIONS = optionNames<CacheMountOptions>({
  id: true,
  sharing: true,
  readonly: true,
  from: true,
  source: true,
  mode: true,
  uid: true,
  gid: true,
});
const BIND_OPTIONS = optionNames<BindMountOptions>({ from: true, source: true, readwrite: true });
const SECRET_OPTIONS = optionNames<SecretMountOptions>({
  target: true,
  env: true,
  required: true,
  mode: true,
  uid: true,
  gid: true,
});
const SSH_OPTIONS = optionNames<SshMountOptions>({
  id: true,
  target: true,
  required: true,
  mode: true,
  uid: true,
  gid: true,
});
const TMPFS_OPTIONS = optionNames<TmpfsMountOptions>({ size: true });

function mount(draft: MountDraft): MountValue {
  return { [MOUNT_BRAND]: true, draft };
}

/**
 * A persistent cache directory (`--mount=type=cache`), kept across builds and never in the image. For
 * package managers use a preset (`cache.npm()`, `cache.apt()`, …: the directories they download into).
 * @example .run('make', { mounts: [cache('/root/.ccache', { id: 'ccache', sharing: 'locked' })] })
 */
export function cache(target: string, options: CacheMountOptions = {}): MountValue {
  checkOptions('cache()', options, CACHE_OPTIONS);
  return mount({ type: 'cache', target, ...options });
}

/**
 * Presets: the directories package managers download into, with stable ids so every build (and every
 * stage) shares them. Single-directory presets return one mount (`mounts: [cache.npm()]`); the ones
 * that need two return an array (`mounts: cache.apt()`, or spread it among others). `options` apply to
 * every mount of a preset; there an `id` becomes the prefix of each mount's id, while a single-directory
 * preset's `id` replaces its own.
 */
const preset = (target: string, id: string, options: CacheMountOptions, defaults: CacheMountOptions = {}) =>
  cache(target, { ...defaults, ...options, id: options.id === undefined ? id : `${options.id}-${id}` });

/** A preset's options, checked under the preset's own name (`cache.npm() has no option …`). */
const presetOptions = (name: string, options: CacheMountOptions): CacheMountOptions => {
  checkOptions(`cache.${name}()`, options, CACHE_OPTIONS);
  return options;
};

/**
 * npm's download cache, `/root/.npm` (id `npm`).
 * @example .run('npm ci', { mounts: [cache.npm()] })
 */
cache.npm = (options: CacheMountOptions = {}): MountValue =>
  cache('/root/.npm', { id: 'npm', ...presetOptions('npm', options) });

/**
 * apt's package downloads (`/var/cache/apt`, id `apt-cache`) and package lists (`/var/lib/apt`, id
 * `apt-lib`), both `sharing: 'locked'` (apt takes its own lock; two builds must not interleave). Debian
 * images delete downloads after each install (`/etc/apt/apt.conf.d/docker-clean`): run
 * {@link aptInstall}, or start the RUN with {@link APT_KEEP_CACHE}, so the cache keeps them.
 * @example
 * .run(`${APT_KEEP_CACHE} && apt-get update && apt-get install -y --no-install-recommends curl`, { mounts: cache.apt() })
 * .run(...aptInstall(['curl'])) // the same, in one call
 */
cache.apt = (options: CacheMountOptions = {}): MountValue[] => {
  const checked = presetOptions('apt', options);
  return [
    preset('/var/cache/apt', 'apt-cache', checked, { sharing: 'locked' }),
    preset('/var/lib/apt', 'apt-lib', checked, { sharing: 'locked' }),
  ];
};

/**
 * pip's download and wheel cache, `/root/.cache/pip` (id `pip`).
 * @example .run('pip install -r requirements.txt', { mounts: [cache.pip()] })
 */
cache.pip = (options: CacheMountOptions = {}): MountValue =>
  cache('/root/.cache/pip', { id: 'pip', ...presetOptions('pip', options) });

/**
 * Go's build cache (`/root/.cache/go-build`, id `go-build`) and module cache (`/go/pkg/mod`, the official
 * images' `GOMODCACHE`, id `go-mod`). An array: spread it, or pass it as `mounts`.
 * @example .run('go build -o /out/app ./cmd/app', { mounts: cache.go() })
 */
cache.go = (options: CacheMountOptions = {}): MountValue[] => {
  const checked = presetOptions('go', options);
  return [preset('/root/.cache/go-build', 'go-build', checked), preset('/go/pkg/mod', 'go-mod', checked)];
};

/**
 * pnpm's content-addressed store at its Linux default for root, `/root/.local/share/pnpm/store` (id `pnpm`).
 * @example .run('pnpm install --frozen-lockfile', { mounts: [cache.pnpm()] })
 */
cache.pnpm = (options: CacheMountOptions = {}): MountValue =>
  cache('/root/.local/share/pnpm/store', { id: 'pnpm', ...presetOptions('pnpm', options) });

/**
 * Yarn 1's cache as root, `/usr/local/share/.cache/yarn` (id `yarn`). Yarn 2+ keeps its cache in the
 * project (`.yarn/cache`) or `/root/.yarn/berry/cache`: use `cache('/root/.yarn/berry/cache')` there.
 * @example .run('yarn install --frozen-lockfile', { mounts: [cache.yarn()] })
 */
cache.yarn = (options: CacheMountOptions = {}): MountValue =>
  cache('/usr/local/share/.cache/yarn', { id: 'yarn', ...presetOptions('yarn', options) });

/**
 * Cargo's registry index and crates (`/usr/local/cargo/registry`, id `cargo-registry`) and git
 * dependencies (`/usr/local/cargo/git`, id `cargo-git`), under the official rust images' `CARGO_HOME`.
 * Not `target/`: build outputs must stay in the layer to be copied out.
 * @example .run('cargo build --release --locked', { mounts: cache.cargo() })
 */
cache.cargo = (options: CacheMountOptions = {}): MountValue[] => {
  const checked = presetOptions('cargo', options);
  return [
    preset('/usr/local/cargo/registry', 'cargo-registry', checked),
    preset('/usr/local/cargo/git', 'cargo-git', checked),
  ];
};

/**
 * Maven's local repository, `/root/.m2/repository` (id `maven`).
 * @example .run('mvn -B package', { mounts: [cache.maven()] })
 */
cache.maven = (options: CacheMountOptions = {}): MountValue =>
  cache('/root/.m2/repository', { id: 'maven', ...presetOptions('maven', options) });

/**
 * Gradle's dependency and build caches, `/root/.gradle/caches` (id `gradle`).
 * @example .run('gradle build --no-daemon', { mounts: [cache.gradle()] })
 */
cache.gradle = (options: CacheMountOptions = {}): MountValue =>
  cache('/root/.gradle/caches', { id: 'gradle', ...presetOptions('gradle', options) });

/**
 * Bun's package cache, `/root/.bun/install/cache` (id `bun`).
 * @example .run('bun install --frozen-lockfile', { mounts: [cache.bun()] })
 */
cache.bun = (options: CacheMountOptions = {}): MountValue =>
  cache('/root/.bun/install/cache', { id: 'bun', ...presetOptions('bun', options) });

/**
 * Shell commands that stop Debian's and Ubuntu's `docker-clean` apt hook from deleting downloaded
 * packages after each install, as BuildKit's documentation shows: without them, `cache.apt()` stays empty.
 * @example .run(`${APT_KEEP_CACHE} && apt-get update && apt-get install -y --no-install-recommends curl`, { mounts: cache.apt() })
 */
export const APT_KEEP_CACHE =
  'rm -f /etc/apt/apt.conf.d/docker-clean; echo \'Binary::apt::APT::Keep-Downloaded-Packages "true";\' > /etc/apt/apt.conf.d/keep-cache';

/**
 * `apt-get install` the way the lint rules want it, as `run()` arguments: the keep-cache prelude, `apt-get
 * update`, `--no-install-recommends`, with both apt caches mounted (so no lists are left in the layer).
 * Pin versions (`curl=7.88.1-10+deb12u5`) for reproducible builds.
 * @example stage('tools').from('debian:bookworm').run(...aptInstall(['curl', 'ca-certificates']))
 */
export function aptInstall(
  packages: readonly string[],
  options: CacheMountOptions = {},
): [script: string, options: { readonly mounts: MountValue[] }] {
  for (const name of packages) {
    if (!/^[A-Za-z0-9][A-Za-z0-9.+:~=_-]*$/.test(name)) {
      throw new WharfError('DSL_BAD_PACKAGE', `aptInstall(): "${name}" is not an apt package name`, {
        hint: 'pass package names (optionally name=version), one per array element',
      });
    }
  }
  const install = `apt-get update && apt-get install -y --no-install-recommends ${packages.join(' ')}`;
  return [`${APT_KEEP_CACHE} && ${install}`, { mounts: cache.apt(options) }];
}

/**
 * A read-only bind of the context (or of `from`: a stage, image or context) at `target`: files a step
 * reads without copying them into a layer.
 * @example .run('go build -o /out/app .', { mounts: [bind('/src', { source: 'cmd' }), ...cache.go()] })
 */
export function bind(target: string, options: BindMountOptions = {}): MountValue {
  checkOptions('bind()', options, BIND_OPTIONS);
  return mount({ type: 'bind', target, ...options });
}

/**
 * A secret file (default `/run/secrets/<id>`) present only while the step runs, never in a layer.
 * Give its value with `--secret id=…,src=…` (or `build({ secrets })`).
 * @example .run('npm ci', { mounts: [secret('npmrc', { target: '/root/.npmrc' })] })
 */
export function secret(id: string, options: SecretMountOptions = {}): MountValue {
  checkOptions('secret()', options, SECRET_OPTIONS);
  return mount({ type: 'secret', id, ...options });
}

/**
 * The SSH agent socket forwarded into the step (`--ssh default`), for `git clone` of private repositories.
 * @example .run('git clone git@github.com:me/private.git', { mounts: [ssh({ required: true })] })
 */
export function ssh(options: SshMountOptions = {}): MountValue {
  checkOptions('ssh()', options, SSH_OPTIONS);
  return mount({ type: 'ssh', ...options });
}

/**
 * An empty tmpfs at `target`, gone after the step.
 * @example .run('make test', { mounts: [tmpfs('/tmp', { size: 64 * 2 ** 20 })] })
 */
export function tmpfs(target: string, options: TmpfsMountOptions = {}): MountValue {
  checkOptions('tmpfs()', options, TMPFS_OPTIONS);
  return mount({ type: 'tmpfs', target, ...options });
}

export function isMountValue(value: unknown): value is MountValue {
  return typeof value === 'object' && value !== null && MOUNT_BRAND in value;
}
