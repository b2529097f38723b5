/**
 * `--changed-since REF`: which targets to build because one of their inputs changed since a git ref,
 * and why each of the others is skipped.
 *
 * A target's inputs are the context files its stages read — COPY and ADD sources and RUN bind and
 * cache-seed mounts, from the main context or a named one, after that context's `.dockerignore` — and
 * the build definition with the local modules it imports. The changes are git's: files that differ
 * between REF and the working tree (staged or not) and untracked files git does not ignore. Base
 * images are base-moves.ts's question; anything else outside git is not an input here (the step cache
 * still sees it when a target builds).
 */
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, posix, relative, resolve, sep } from 'node:path';
import { WharfError } from '../errors.js';
import { hasExpansion } from '../ir/expand.js';
import type { BuildGraph, ContextSpec, FromRef } from '../ir/types.js';
import { globMatch, hasWildcards } from '../layer/glob.js';
import { createIgnoreMatcher, type IgnoreMatcher, parseDockerignore } from '../layer/ignore.js';
import { runGit } from './git.js';

/** Whether a target is built or skipped under `--changed-since`, and why. */
export interface TargetChange {
  readonly build: boolean;
  /** One line: the first changed input (`services/web/main.js changed`), or what was looked at. */
  readonly reason: string;
}

/** The files git reports changed since a ref, as absolute paths. */
export interface ChangedFiles {
  readonly ref: string;
  /** The ref's commit. */
  readonly commit: string;
  /** The repository's top folder. */
  readonly top: string;
  readonly files: readonly string[];
}

/** The files changed between `ref` and the working tree of the checkout holding `dir`, untracked included. */
export async function changedFiles(dir: string, ref: string): Promise<ChangedFiles> {
  if (ref === '' || ref.startsWith('-') || /[\s\0]/.test(ref)) {
    throw new WharfError('BAKE_BAD_REF', `--changed-since "${ref}" is not a git ref`, {
      hint: 'name a branch, tag or commit, e.g. --changed-since origin/main',
    });
  }
  const top = (await runGit(dir, ['rev-parse', '--show-toplevel']))?.trim();
  if (!top) {
    throw new WharfError(
      'GIT_NOT_A_REPOSITORY',
      `--changed-since needs a git checkout: ${dir} is not in one`,
      {
        hint: 'run wharf bake inside the repository, or drop --changed-since',
      },
    );
  }
  const commit = (await runGit(top, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]))?.trim();
  if (!commit) {
    throw new WharfError('BAKE_BAD_REF', `--changed-since ${ref}: no commit of that name in ${top}`, {
      hint: 'fetch it first (git fetch origin main), or name another branch, tag or commit',
    });
  }
  const [diff, untracked] = await Promise.all([
    runGit(top, ['diff', '--name-only', '--no-renames', '-z', commit, '--']),
    runGit(top, ['ls-files', '--others', '--exclude-standard', '-z']),
  ]);
  if (diff === undefined || untracked === undefined) {
    throw new WharfError('GIT_FAILED', `git could not list the changes since ${ref} in ${top}`, {
      hint: `try git diff --name-only ${ref} in ${top}`,
    });
  }
  const files = [...new Set([...diff.split('\0'), ...untracked.split('\0')].filter(Boolean))].map((f) =>
    join(top, f),
  );
  return { ref, commit, top, files };
}

/** The context files one target reads: per context folder, its ignore rules and the sources read. */
interface ContextInputs {
  readonly dir: string;
  /** The `.dockerignore` file the rules came from (a change to it changes what the context holds). */
  readonly ignoreFile?: string;
  readonly matcher: IgnoreMatcher;
  /** Cleaned source paths (globs allowed), relative to the context; `''` is the whole context. */
  readonly sources: Set<string>;
}

/**
 * Decides, for each target's graph, whether it is built: a change in the definition files builds
 * every target; otherwise a target builds when a changed file is one of its context inputs.
 */
export function targetChanges(
  graphs: ReadonlyMap<string, BuildGraph>,
  changes: ChangedFiles,
  options: {
    readonly contextDir: string;
    readonly definitionFile?: string;
    /** `--build-context` names: contexts from outside the definition, not followed. */
    readonly buildContexts?: readonly string[];
  },
): Map<string, TargetChange> {
  const shown = (file: string) => relative(changes.top, file) || '.';
  const since = `since ${changes.ref} (${changes.commit.slice(0, 7)})`;
  const changed = changes.files.map(canonical);
  const out = new Map<string, TargetChange>();
  const definitionFiles = options.definitionFile ? definitionModules(options.definitionFile) : [];
  const definitionChange = changed.find((file) => definitionFiles.includes(file));
  for (const [name, graph] of graphs) {
    if (definitionChange !== undefined) {
      out.set(name, {
        build: true,
        reason: `${shown(definitionChange)} (the build definition) changed ${since}`,
      });
      continue;
    }
    const { contexts: inputs, unfollowed } = contextInputs(graph, options.contextDir, options.buildContexts);
    if (unfollowed !== undefined) {
      out.set(name, { build: true, reason: `it reads ${unfollowed}, which --changed-since cannot follow` });
      continue;
    }
    const hits = changed.filter((file) => inputs.some((context) => isInput(context, file)));
    if (hits.length > 0) {
      const more = hits.length > 1 ? ` and ${hits.length - 1} more` : '';
      out.set(name, { build: true, reason: `${shown(hits[0] as string)}${more} changed ${since}` });
      continue;
    }
    const read = inputs.flatMap((c) =>
      [...c.sources].map((s) => shown(join(c.dir, s)) + (s === '' ? '/' : '')),
    );
    const listed = read.length > 6 ? [...read.slice(0, 6), `${read.length - 6} more`] : read;
    out.set(name, {
      build: false,
      reason: `none of its inputs changed ${since} (${changes.files.length} file${changes.files.length === 1 ? '' : 's'} changed; it reads ${listed.length ? listed.join(', ') : 'no context files'})`,
    });
  }
  return out;
}

/** A path with symlinked folders resolved (git reports the real top folder), when it exists. */
function canonical(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    // A deleted file: resolve its folder instead.
    const parent = dirname(file);
    return parent === file ? file : join(canonical(parent), file.slice(parent.length + 1));
  }
}

function isInput(context: ContextInputs, file: string): boolean {
  const rel = relative(context.dir, file);
  if (rel === '' || rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel)) return false;
  if (context.ignoreFile !== undefined && file === context.ignoreFile) return true;
  const path = rel.split(sep).join('/');
  if (context.matcher.matches(path)) return false;
  for (const source of context.sources) {
    if (source === '') return true;
    if (hasWildcards(source)) {
      const depth = source.split('/').length;
      if (globMatch(source, path.split('/').slice(0, depth).join('/'))) return true;
    } else if (path === source || path.startsWith(`${source}/`)) return true;
  }
  return false;
}

/**
 * Every context a graph's stages read, with the sources read from each; `unfollowed` names a context
 * that does not come from the definition (`--build-context`), whose changes cannot be told.
 */
function contextInputs(
  graph: BuildGraph,
  contextDir: string,
  buildContexts: readonly string[] = [],
): { contexts: ContextInputs[]; unfollowed?: string } {
  let unfollowed: string | undefined;
  const contexts = new Map<string, ContextInputs>();
  const open = (spec: ContextSpec): ContextInputs => {
    const dir = canonical(resolve(contextDir, spec.dir));
    let found = contexts.get(dir);
    if (!found) {
      const ignoreFile = join(dir, '.dockerignore');
      const fromFile = spec.ignore === undefined;
      const patterns = fromFile
        ? existsSync(ignoreFile) && statSync(ignoreFile).isFile()
          ? parseDockerignore(readFileSync(ignoreFile, 'utf8'))
          : []
        : spec.ignore;
      found = {
        dir,
        ...(fromFile ? { ignoreFile } : {}),
        matcher: createIgnoreMatcher(patterns ?? [], { origin: fromFile ? ignoreFile : 'context ignore' }),
        sources: new Set(),
      };
      contexts.set(dir, found);
    }
    return found;
  };
  const contextOf = (from: FromRef | undefined): ContextInputs | undefined => {
    if (from === undefined) return open(graph.context);
    if (from.kind !== 'context') return undefined;
    const spec = graph.namedContexts[from.name];
    if (!spec || buildContexts.includes(from.name)) unfollowed ??= `build context "${from.name}"`;
    return spec ? open(spec) : undefined;
  };
  const read = (context: ContextInputs | undefined, source: string | undefined) => {
    if (!context) return;
    context.sources.add(source === undefined ? '' : cleanSource(source));
  };
  for (const stage of graph.stages) {
    for (const instruction of stage.instructions) {
      if (instruction.kind === 'copy' || instruction.kind === 'add') {
        const context = contextOf(instruction.kind === 'copy' ? instruction.from : undefined);
        for (const source of instruction.sources) {
          if (instruction.kind === 'add' && /^[a-z][a-z0-9+.-]*:\/\/|^git@/i.test(source)) continue;
          read(context, source);
        }
      } else if (instruction.kind === 'run') {
        for (const mount of instruction.mounts ?? []) {
          if (mount.type === 'bind') read(contextOf(mount.from), mount.source);
          else if (mount.type === 'cache' && mount.from) read(contextOf(mount.from), mount.source);
        }
      }
    }
  }
  return { contexts: [...contexts.values()], ...(unfollowed ? { unfollowed } : {}) };
}

/** A COPY source as a context-relative path; one with `$` expansions stands for the whole context. */
function cleanSource(source: string): string {
  if (hasExpansion(source)) return '';
  const clean = posix.normalize(`/${source}`).slice(1).replace(/\/$/, '');
  return clean === '.' ? '' : clean;
}

/** How many local modules of a build definition are followed, at most. */
const MAX_DEFINITION_MODULES = 500;

/**
 * The build definition and the local modules it imports (relative specifiers, followed
 * transitively), as real paths: a change to any of them may change every target.
 */
export function definitionModules(file: string): string[] {
  const seen = new Set<string>();
  const queue = [resolve(file)];
  while (queue.length > 0 && seen.size < MAX_DEFINITION_MODULES) {
    const path = queue.shift() as string;
    const real = canonical(path);
    if (seen.has(real)) continue;
    seen.add(real);
    let text: string;
    try {
      text = readFileSync(real, 'utf8');
    } catch {
      continue;
    }
    for (const match of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.\.?\/[^'"]+)['"]/g)) {
      const found = moduleFile(resolve(dirname(real), match[1] as string));
      if (found) queue.push(found);
    }
  }
  return [...seen];
}

/** The file an import specifier names, as jiti resolves it (`./x.js` may be `./x.ts`). */
function moduleFile(path: string): string | undefined {
  const stem = path.replace(/\.(m?js|cjs)$/, '');
  const candidates = [
    path,
    ...['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs', '.json'].map((ext) => stem + ext),
    ...['index.ts', 'index.js'].map((name) => join(path, name)),
  ];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile());
}
