/**
 * Workspace-aware contexts: the part of a pnpm or npm workspace one package needs — the package, the
 * workspace packages it depends on (transitively), and the root files the package manager reads (root
 * package.json, lockfile, workspace file, .npmrc) — as a build context whose `.dockerignore` rules
 * leave everything else out. An unrelated package's change then changes neither the context's
 * files, the COPY step's cache key, nor `--changed-since`'s answer.
 *
 * Workspace globs come from `pnpm-workspace.yaml` (`packages:`) or the root package.json's
 * `workspaces`; they are matched segment by segment with COPY's glob matcher (linear time, as the
 * repository is untrusted input), `**` for any depth, `!pattern` to leave packages out. Folders named
 * `node_modules` or starting with `.` are not searched.
 */
import { lstat, readdir, readFile } from 'node:fs/promises';
import { basename, join, posix, resolve } from 'node:path';
import { type ContextValue, context } from '../dsl/values.js';
import { WharfError } from '../errors.js';
import { globMatch } from '../layer/glob.js';
import { parseDockerignore } from '../layer/ignore.js';
import { readPackageJson } from './git.js';

/** Root files a package manager reads besides the packages (kept when present). */
const ROOT_FILES = [
  'package.json',
  'pnpm-lock.yaml',
  'pnpm-workspace.yaml',
  'package-lock.json',
  'npm-shrinkwrap.json',
  'yarn.lock',
  '.npmrc',
  '.yarnrc.yml',
];

/** How deep workspace globs search, and how many folders at most: a repository is untrusted input. */
const MAX_DEPTH = 8;
const MAX_FOLDERS = 20_000;
const DEPENDENCY_FIELDS = ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies'];

/** Options of {@link workspaceContext}. */
export interface WorkspaceContextOptions {
  /** The workspace root (where pnpm-workspace.yaml or the root package.json is), relative to `dir`. */
  readonly root: string;
  /** The package the target builds, relative to `root` (`services/api`). */
  readonly package: string;
  /** The folder `root` is relative to — the build definition's (`import.meta.dirname`); default the current one. */
  readonly dir?: string;
  /** The context's name (`COPY --from=<name>` in an emitted Dockerfile); default `<package folder>-workspace`. */
  readonly name?: string;
  /** More paths under the root to keep (`tsconfig.base.json`, `patches`). */
  readonly include?: readonly string[];
}

/** What a package needs from its workspace: folders relative to the root, the package first. */
export interface WorkspaceSubset {
  /** The package and the workspace packages it depends on, transitively (slash paths). */
  readonly packages: readonly string[];
  /** The root files present (package.json, lockfile, workspace file …). */
  readonly rootFiles: readonly string[];
}

/**
 * A build context holding only what `package` needs from the workspace at `root` (see the module doc),
 * for `copy(context, '.', '/repo')` in that package's target. The root's own `.dockerignore`
 * exclusions still apply.
 * @example
 * const api = await workspaceContext({ root: 'repo', package: 'services/api', dir: import.meta.dirname });
 * stage('api').from('node:20').workdir('/repo').copy(api, '.', '.').run('npm ci')
 */
export async function workspaceContext(options: WorkspaceContextOptions): Promise<ContextValue> {
  const root = resolve(options.dir ?? process.cwd(), options.root);
  const subset = await workspaceSubset(root, options.package);
  const own = await rootIgnore(root);
  const keep = [...subset.rootFiles, ...subset.packages, ...(options.include ?? []).map(cleanPath)];
  return context(options.root, {
    name: options.name ?? `${basename(subset.packages[0] ?? 'package')}-workspace`,
  }).ignore(['*', ...keep.map((path) => `!${path}`), ...own]);
}

/**
 * The folders and root files `pkg` needs from the workspace at `root` (an absolute path).
 * @example await workspaceSubset('/src/repo', 'services/api') // { packages: ['services/api', 'packages/greeting'], rootFiles: ['package.json', 'pnpm-lock.yaml'] }
 */
export async function workspaceSubset(root: string, pkg: string): Promise<WorkspaceSubset> {
  const patterns = await workspacePatterns(root);
  const byName = new Map<string, string>();
  for (const dir of await findPackages(root, patterns)) {
    const manifest = await readPackageJson(join(root, dir, 'package.json'));
    if (typeof manifest.name === 'string' && !byName.has(manifest.name)) byName.set(manifest.name, dir);
  }
  const start = cleanPath(pkg);
  const packages: string[] = [];
  const queue = [start];
  while (queue.length > 0) {
    const dir = queue.shift() as string;
    if (packages.includes(dir)) continue;
    packages.push(dir);
    const manifest = await readPackageJson(join(root, dir, 'package.json'));
    for (const field of DEPENDENCY_FIELDS) {
      const deps = manifest[field];
      if (typeof deps !== 'object' || deps === null) continue;
      for (const name of Object.keys(deps)) {
        const found = byName.get(name);
        if (found !== undefined) queue.push(found);
      }
    }
  }
  const rootFiles: string[] = [];
  for (const file of ROOT_FILES) {
    const stat = await lstat(join(root, file)).catch(() => undefined);
    if (stat?.isFile()) rootFiles.push(file);
  }
  return { packages, rootFiles };
}

/** The workspace globs: pnpm-workspace.yaml's `packages:` list, else package.json `workspaces`. */
async function workspacePatterns(root: string): Promise<string[]> {
  const yaml = await readFile(join(root, 'pnpm-workspace.yaml'), 'utf8').catch(() => undefined);
  if (yaml !== undefined) return pnpmPackages(yaml);
  const manifest = await readPackageJson(join(root, 'package.json'));
  const workspaces = manifest.workspaces;
  const list = Array.isArray(workspaces)
    ? workspaces
    : (workspaces as { packages?: unknown } | undefined)?.packages;
  if (!Array.isArray(list) || list.some((p) => typeof p !== 'string')) {
    throw new WharfError('BAKE_NOT_A_WORKSPACE', `${root} is not a pnpm or npm workspace root`, {
      hint: 'point root at the folder with pnpm-workspace.yaml, or a package.json with "workspaces": ["packages/*"]',
    });
  }
  return list as string[];
}

/** The `packages:` list of a pnpm-workspace.yaml (block style, one quoted or plain string a line). */
export function pnpmPackages(text: string): string[] {
  const out: string[] = [];
  let inList = false;
  for (const line of text.split(/\r?\n/)) {
    if (/^packages:\s*(#.*)?$/.test(line)) {
      inList = true;
      continue;
    }
    if (!inList || /^\s*(#.*)?$/.test(line)) continue;
    const item = /^\s+-\s+(?:'([^']*)'|"([^"]*)"|([^\s#'"][^#]*?))\s*(#.*)?$/.exec(line);
    if (!item) {
      if (/^\S/.test(line)) inList = false;
      continue;
    }
    out.push(item[1] ?? item[2] ?? item[3] ?? '');
  }
  return out;
}

/** The folders under `root` holding a package.json that the patterns (`!` to leave out) choose. */
async function findPackages(root: string, patterns: readonly string[]): Promise<string[]> {
  const include = patterns.filter((p) => !p.startsWith('!')).map(cleanPath);
  const exclude = patterns.filter((p) => p.startsWith('!')).map((p) => cleanPath(p.slice(1)));
  const found: string[] = [];
  let seen = 0;
  const walk = async (rel: string, depth: number): Promise<void> => {
    if (++seen > MAX_FOLDERS) {
      throw new WharfError('BAKE_WORKSPACE_TOO_BIG', `more than ${MAX_FOLDERS} folders under ${root}`, {
        hint: 'narrow the workspace globs (packages/* rather than **)',
      });
    }
    const segments = rel === '' ? [] : rel.split('/');
    if (
      rel !== '' &&
      include.some((p) => matchSegments(p.split('/'), segments)) &&
      !exclude.some((p) => matchSegments(p.split('/'), segments))
    ) {
      const manifest = await lstat(join(root, rel, 'package.json')).catch(() => undefined);
      if (manifest?.isFile()) found.push(rel);
    }
    if (depth >= MAX_DEPTH) return;
    const entries = await readdir(join(root, rel), { withFileTypes: true }).catch(() => []);
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (!entry.isDirectory() || entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
      await walk(rel === '' ? entry.name : `${rel}/${entry.name}`, depth + 1);
    }
  };
  await walk('', 0);
  return found;
}

/**
 * Whether path segments match pattern segments: `**` any number of segments, others Go's
 * `filepath.Match`. A table over (pattern, path) positions: O(pattern × path) whatever the pattern.
 */
function matchSegments(pattern: readonly string[], path: readonly string[]): boolean {
  // can[i][j]: pattern[i..] matches path[j..]
  const can: boolean[][] = Array.from({ length: pattern.length + 1 }, () =>
    new Array<boolean>(path.length + 1).fill(false),
  );
  (can[pattern.length] as boolean[])[path.length] = true;
  for (let i = pattern.length - 1; i >= 0; i--) {
    const row = can[i] as boolean[];
    const next = can[i + 1] as boolean[];
    for (let j = path.length; j >= 0; j--) {
      const seg = pattern[i] as string;
      if (seg === '**') row[j] = (next[j] as boolean) || (j < path.length && (row[j + 1] as boolean));
      else row[j] = j < path.length && (next[j + 1] as boolean) && safeGlob(seg, path[j] as string);
    }
  }
  return (can[0] as boolean[])[0] as boolean;
}

function safeGlob(pattern: string, name: string): boolean {
  try {
    return globMatch(pattern, name);
  } catch {
    return false; // a malformed workspace glob chooses nothing, as in pnpm
  }
}

/** A path relative to the root, slash-separated, without `./` or a trailing slash; never outside it. */
function cleanPath(path: string): string {
  const clean = posix.normalize(path.replaceAll('\\', '/'));
  if (clean === '..' || clean.startsWith('../') || posix.isAbsolute(clean)) {
    throw new WharfError('BAKE_BAD_WORKSPACE_PATH', `"${path}" is outside the workspace root`, {
      hint: 'name folders inside the root, relative to it (services/api, packages/*)',
    });
  }
  return clean === '.' ? '' : clean.replace(/\/$/, '');
}

/** The root's own `.dockerignore` exclusions (not its `!` exceptions: they would re-admit other packages). */
async function rootIgnore(root: string): Promise<string[]> {
  const text = await readFile(join(root, '.dockerignore'), 'utf8').catch(() => '');
  return parseDockerignore(text).filter((pattern) => !pattern.startsWith('!'));
}
