/**
 * Tags and labels from the repository: the git state a build.ts reads once per run (commit, branch,
 * tag, dirty flag, commit time, origin), a workspace package's `package.json` version, semver
 * expansions (`v1.2.3` → `1.2.3`, `1.2`, `1`), `sha-<short>` tags and the OCI labels
 * (`org.opencontainers.image.revision`, `source`, `version`, `created`, through the DSL's `ociLabels`).
 *
 * git runs as a child process without a shell, with a timeout and an output cap, and with the
 * repository's `core.fsmonitor` hook turned off (a hostile checkout could name a program there that
 * `git status` would run).
 */
import { execFile } from 'node:child_process';
import { type FileHandle, open } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ociLabels } from '../dsl/labels.js';
import { WharfError } from '../errors.js';

/** What {@link gitState} reads from a checkout. */
export interface GitState {
  /** The full commit SHA of HEAD. */
  readonly commit: string;
  /** Its first 7 characters (a fixed length, so tags do not change as the repository grows). */
  readonly shortCommit: string;
  /** The branch checked out; absent when HEAD is detached (as in most CI checkouts of a tag). */
  readonly branch?: string;
  /** The tags on HEAD, highest version first. */
  readonly tags: readonly string[];
  /** The semver tag on HEAD (`v1.2.3`), else the first tag; absent when HEAD has none. */
  readonly tag?: string;
  /** Whether tracked files differ from HEAD or untracked, not ignored files exist. */
  readonly dirty: boolean;
  /** HEAD's committer time, seconds since the epoch. */
  readonly commitTime: number;
  /** `origin`'s URL as a browsable address, credentials removed; absent without an `origin` remote. */
  readonly source?: string;
}

/** How long one git command may run, and how much it may print. */
const GIT_TIMEOUT_MS = 15_000;
const GIT_MAX_OUTPUT = 1024 * 1024;

/**
 * Runs `git args` in `cwd`: no shell, bounded time and output, fsmonitor off, no prompts.
 * Resolves with stdout, or `undefined` when git exits non-zero (the callers' "not there" case).
 */
export function runGit(cwd: string, args: readonly string[]): Promise<string | undefined> {
  return new Promise((done, fail) => {
    execFile(
      'git',
      ['-c', 'core.fsmonitor=false', '--no-optional-locks', ...args],
      {
        cwd,
        timeout: GIT_TIMEOUT_MS,
        maxBuffer: GIT_MAX_OUTPUT,
        encoding: 'utf8',
        env: { ...process.env, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' },
      },
      (error, stdout) => {
        if (!error) return done(stdout);
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') {
          return fail(
            new WharfError('GIT_NOT_FOUND', 'git is not installed (needed to read the repository)', {
              hint: 'install git, or pass tags and labels explicitly',
            }),
          );
        }
        if (error.killed || code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') {
          return fail(
            new WharfError('GIT_FAILED', `git ${args.join(' ')} did not finish within limits in ${cwd}`, {
              hint: `git may wait on a lock or a huge repository; try the command by hand in ${cwd}`,
              cause: error,
            }),
          );
        }
        done(undefined);
      },
    );
  });
}

const states = new Map<string, Promise<GitState>>();

/**
 * The git state of the checkout holding `dir` (default the current directory), read once per process
 * for each folder.
 * @example
 * const git = await gitState(import.meta.dirname);
 * const tags = imageTags('registry.example.com/api', { git, version: git.tag });
 */
export function gitState(dir: string = process.cwd()): Promise<GitState> {
  const key = resolve(dir);
  let state = states.get(key);
  if (!state) {
    state = readGitState(key);
    states.set(key, state);
    // A failure (no git, not a repository) is not remembered: the caller may fix it and ask again.
    state.catch(() => states.delete(key));
  }
  return state;
}

async function readGitState(dir: string): Promise<GitState> {
  const [commit, branch, tagList, status, time, origin] = await Promise.all([
    runGit(dir, ['rev-parse', '--verify', '--quiet', 'HEAD^{commit}']),
    runGit(dir, ['symbolic-ref', '--quiet', '--short', 'HEAD']),
    runGit(dir, ['tag', '--points-at', 'HEAD', '--sort=-v:refname']),
    runGit(dir, ['status', '--porcelain', '-z', '--untracked-files=normal']),
    runGit(dir, ['show', '-s', '--format=%ct', 'HEAD']),
    runGit(dir, ['remote', 'get-url', 'origin']),
  ]);
  const sha = commit?.trim() ?? '';
  if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(sha) || status === undefined) {
    throw new WharfError('GIT_NOT_A_REPOSITORY', `${dir} is not in a git checkout with a commit`, {
      hint: 'run wharf from a git repository with at least one commit, or pass tags and labels explicitly',
    });
  }
  const tags = (tagList ?? '').split('\n').filter(Boolean);
  const tag = tags.find((t) => parseSemver(t) !== undefined) ?? tags[0];
  const source = origin === undefined ? undefined : browsableUrl(origin.trim());
  return {
    commit: sha,
    shortCommit: sha.slice(0, 7),
    ...(branch?.trim() ? { branch: branch.trim() } : {}),
    tags,
    ...(tag !== undefined ? { tag } : {}),
    dirty: status.length > 0,
    commitTime: Number(time?.trim() ?? 0) || 0,
    ...(source ? { source } : {}),
  };
}

/**
 * A remote URL as an address to show in a label: credentials dropped (an `https://user:token@…`
 * remote must not end up in an image), `git@host:path` and `ssh://` spelt `https://host/path`, no
 * trailing `.git`. Local paths and unknown schemes give `undefined`.
 */
export function browsableUrl(remote: string): string | undefined {
  const scp = /^[\w.-]+@([\w.-]+):(?!\/)(.+)$/.exec(remote);
  let url: URL;
  try {
    url = new URL(scp ? `https://${scp[1]}/${scp[2]}` : remote);
  } catch {
    return undefined;
  }
  if (!['https:', 'http:', 'ssh:', 'git:'].includes(url.protocol)) return undefined;
  const path = url.pathname.replace(/\.git\/?$/, '').replace(/\/$/, '');
  return `${url.protocol === 'http:' ? 'http' : 'https'}://${url.hostname}${path}`;
}

interface Semver {
  readonly major: string;
  readonly minor: string;
  readonly patch: string;
  readonly prerelease?: string;
  readonly build?: string;
}

/** semver.org's grammar, with an optional leading `v`. */
const SEMVER =
  /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

function parseSemver(text: string): Semver | undefined {
  const m = SEMVER.exec(text);
  if (!m) return undefined;
  return {
    major: m[1] as string,
    minor: m[2] as string,
    patch: m[3] as string,
    ...(m[4] ? { prerelease: m[4] } : {}),
    ...(m[5] ? { build: m[5] } : {}),
  };
}

/**
 * The image tags a release version stands for: `v1.2.3` → `1.2.3`, `1.2`, `1`. A prerelease
 * (`1.3.0-rc.1`) gives only itself, and a `0.x` version no bare `0` (it promises nothing); build
 * metadata (`+build.5`) is dropped, as a tag cannot hold `+`.
 * @example semverTags('v1.2.3') // ['1.2.3', '1.2', '1']
 */
export function semverTags(version: string): string[] {
  const v = parseSemver(version.trim());
  if (!v) {
    throw new WharfError('BAKE_BAD_VERSION', `"${version}" is not a semantic version (MAJOR.MINOR.PATCH)`, {
      hint: 'use a version such as 1.2.3 or v1.2.3 (a git tag or package.json "version")',
    });
  }
  const full = `${v.major}.${v.minor}.${v.patch}`;
  if (v.prerelease) return [`${full}-${v.prerelease}`];
  return v.major === '0' ? [full, `${v.major}.${v.minor}`] : [full, `${v.major}.${v.minor}`, v.major];
}

/** Options of {@link imageTags}. */
export interface ImageTagOptions {
  /** The repository's state: adds `sha-<short>` (`sha-<short>-dirty` for a dirty checkout). */
  readonly git?: GitState;
  /** A version to expand with {@link semverTags} (a git tag `v1.2.3`, a package.json version). */
  readonly version?: string;
  /** Also tag `latest` (only for a release version, never a prerelease). */
  readonly latest?: boolean;
}

/**
 * Full image names for a target: the version's semver expansions, `sha-<short>`, and `latest` when
 * asked, each under `image`.
 * @example
 * imageTags('registry.example.com/api', { version: 'v1.2.3', git })
 * // ['registry.example.com/api:1.2.3', '…/api:1.2', '…/api:1', '…/api:sha-1a2b3c4']
 */
export function imageTags(image: string, options: ImageTagOptions): string[] {
  const tags: string[] = [];
  if (options.version !== undefined) {
    const versions = semverTags(options.version);
    tags.push(...versions);
    if (options.latest && !versions[0]?.includes('-')) tags.push('latest');
  }
  const git = options.git;
  if (git) tags.push(`sha-${git.shortCommit}${git.dirty ? '-dirty' : ''}`);
  if (tags.length === 0) {
    throw new WharfError('BAKE_NO_TAGS', `imageTags('${image}') has nothing to tag with`, {
      hint: 'pass { version } and/or { git: await gitState() }',
    });
  }
  return tags.map((tag) => `${image}:${tag}`);
}

/** Options of {@link gitLabels}. */
export interface GitLabelOptions {
  readonly git?: GitState;
  /** `org.opencontainers.image.version` (a `v` before a semver is dropped). */
  readonly version?: string;
  /** `org.opencontainers.image.source`; default the git state's origin. */
  readonly source?: string;
  /**
   * `org.opencontainers.image.created`, seconds since the epoch; default `SOURCE_DATE_EPOCH`, else the
   * commit time — never the clock, so a rebuild gives the same image.
   */
  readonly created?: number;
}

/**
 * The OCI annotation labels that come from the repository — `revision` (the commit), `source`,
 * `version`, `created` — spelt by the DSL's {@link ociLabels}; spread the DSL's for the others.
 * @example labels: { ...gitLabels({ git: await gitState(), version: '1.2.3' }), ...ociLabels({ title: 'api' }) }
 */
export function gitLabels(options: GitLabelOptions): Record<string, string> {
  const { git } = options;
  const source = options.source ?? git?.source;
  const version = options.version?.trim();
  const created = options.created ?? sourceDateEpoch() ?? git?.commitTime;
  return ociLabels({
    ...(git ? { revision: git.commit } : {}),
    ...(source ? { source } : {}),
    ...(version !== undefined ? { version: parseSemver(version) ? version.replace(/^v/, '') : version } : {}),
    ...(created !== undefined ? { created: new Date(created * 1000).toISOString() } : {}),
  });
}

/** `SOURCE_DATE_EPOCH` as seconds, or `undefined` when unset; a malformed value is an error. */
function sourceDateEpoch(): number | undefined {
  const text = process.env.SOURCE_DATE_EPOCH;
  if (text === undefined || text === '') return undefined;
  if (!/^\d{1,12}$/.test(text)) {
    throw new WharfError('BAKE_BAD_EPOCH', `SOURCE_DATE_EPOCH="${text}" is not a number of seconds`, {
      hint: 'set SOURCE_DATE_EPOCH to seconds since the epoch, e.g. $(git log -1 --format=%ct)',
    });
  }
  return Number(text);
}

/** package.json files are small; a bigger one is not a package.json. */
const MAX_PACKAGE_JSON = 1024 * 1024;

/**
 * The `version` of the package in `dir` (its package.json).
 * @example const version = await packageVersion('services/api'); // '1.4.0'
 */
export async function packageVersion(dir: string): Promise<string> {
  const manifest = await readPackageJson(join(dir, 'package.json'));
  if (typeof manifest.version !== 'string' || manifest.version === '') {
    throw new WharfError('BAKE_NO_VERSION', `${join(dir, 'package.json')} has no "version"`, {
      hint: 'add "version": "1.0.0" to it, or pass the version explicitly',
    });
  }
  return manifest.version;
}

/**
 * At most `limit` bytes of a file, read in small pieces: a bake reads a dozen package.json files, and a
 * zero-filled buffer of the whole limit for each was a measurable part of a one-file change's CPU.
 */
async function readBounded(handle: FileHandle, limit: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for (;;) {
    const piece = Buffer.allocUnsafe(Math.min(64 * 1024, limit + 1 - size));
    const { bytesRead } = await handle.read(piece, 0, piece.length, size);
    if (bytesRead === 0) break;
    parts.push(piece.subarray(0, bytesRead));
    size += bytesRead;
    if (size > limit) throw new Error(`larger than ${limit / (1024 * 1024)} MiB`);
  }
  return Buffer.concat(parts, size);
}

/** A package.json parsed, bounded in size; errors name the file. */
export async function readPackageJson(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    const handle = await open(file, 'r');
    try {
      text = (await readBounded(handle, MAX_PACKAGE_JSON)).toString('utf8');
    } finally {
      await handle.close();
    }
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
    return value as Record<string, unknown>;
  } catch (error) {
    if (error instanceof WharfError) throw error;
    throw new WharfError('BAKE_BAD_PACKAGE', `cannot read ${file}: ${(error as Error).message}`, {
      hint: 'point at a folder with a valid package.json',
      cause: error,
    });
  }
}
