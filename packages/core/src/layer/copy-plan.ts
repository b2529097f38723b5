/**
 * COPY and ADD path rules, as BuildKit applies them (dockerfile2llb `dispatchCopy` → file op copy →
 * tonistiigi/fsutil `copy.Copy`), turned into the ordered list of entries one layer must hold.
 *
 * Per source, in order (later sources see what earlier ones wrote):
 * 1. Relative destinations join the WORKDIR; `.` and a trailing `/` mean "a directory". The
 *    destination's directory (the whole destination when it ends in `/`) is created with its
 *    missing parents: mode 0755, owned by the `--chown` owner or root.
 * 2. The destination is resolved inside the image, following symlinks (also a final one), never
 *    leaving the root (`fs.RootPath`).
 * 3. The source path is resolved following symlinks, so a symlink named as a source (or matched by
 *    a wildcard) is copied as what it points to, under the link's own name. Wildcards use Go's
 *    `filepath.Match` on each level below the last literal directory; a wildcard that matches
 *    nothing copies nothing (BuildKit's AllowEmptyWildcard); a literal path that does not exist is an error.
 * 4. A file goes *into* an existing directory (under its source name), else becomes the
 *    destination. A directory's *contents* are copied into the destination (created if missing).
 * 5. Inside a copied directory, entries are copied as they are: symlinks stay links, existing
 *    directories are merged and take the source's mode and owner, existing files and links are
 *    replaced, and a file can never replace a directory (or a directory a non-directory): errors.
 *    Hard links (same device and inode) within one COPY stay hard links.
 */
import path from 'node:path';
import { WharfError } from '../errors.js';
import { type Compression, detectArchive, readArchive } from './archive.js';
import { type Owner, parseChmod } from './chown.js';
import type { FileContent, LayerEntry } from './entry.js';
import { statOfEntry } from './entry.js';
import {
  baseOf,
  cleanImagePath,
  type FsView,
  joinImagePath,
  OverlayFsView,
  parentOf,
  resolveInView,
  resolveUnder,
} from './fs-view.js';
import { globMatch, hasWildcards, splitWildcards } from './glob.js';
import { createIgnoreMatcher, type IgnoreMatcher, type ParentMatchInfo } from './ignore.js';
import { cleanSourcePath, resolveSource, type SourceStat, type SourceTree } from './source.js';

export type CopyPlanErrorCode =
  | 'COPY_SOURCE_NOT_FOUND'
  | 'COPY_SPECIAL_FILE'
  | 'COPY_CANNOT_REPLACE_DIRECTORY'
  | 'COPY_NOT_A_DIRECTORY'
  | 'COPY_UNSUPPORTED_SOURCE'
  | 'ADD_BAD_ARCHIVE';

export interface CopyPlanOptions {
  /** Names the instruction in messages, and `ADD` unpacks local tar archives. Default `COPY`. */
  readonly instruction?: 'COPY' | 'ADD';
  /** Source paths or wildcards, already expanded (Words → strings), relative to the source root. */
  readonly sources: readonly string[];
  /** The destination, already expanded; relative to `workdir` unless absolute. */
  readonly dest: string;
  /** The stage's WORKDIR; default `/`. */
  readonly workdir?: string;
  /** Where the sources are read: the build context or a stage's root filesystem. */
  readonly source: SourceTree;
  /** The image filesystem before this instruction (destination semantics depend on it). */
  readonly view: FsView;
  /** `--chown`, already resolved (see `resolveChown`). Default: 0:0 for the build context, the source owner otherwise. */
  readonly chown?: Owner;
  /** `--chmod`, octal (`'755'`) or a number. Applies to copied files and directories, not symlinks. */
  readonly chmod?: string | number;
  /** `--exclude` patterns (`.dockerignore` syntax), matched relative to each copied source. */
  readonly exclude?: readonly string[];
  /** `--parents`: keep each source's path (below an optional `/./` pivot) under the destination. */
  readonly parents?: boolean;
}

export interface CopyPlan {
  /** In write order: parents before children, each path once. */
  readonly entries: readonly LayerEntry[];
}

interface SourceItem {
  /** The source as the user wrote it (for messages). */
  readonly given: string;
  /** Clean path in the source tree (not yet symlink-resolved). */
  readonly path: string;
  /** The name a file gets inside a destination directory. */
  readonly name: string;
  /** `--parents`: the include pattern, relative to `path`. */
  readonly include?: string;
}

/** Plans one COPY/ADD instruction. Reads source metadata (and ADD archives' headers), never file contents. */
export async function planCopy(options: CopyPlanOptions): Promise<CopyPlan> {
  const planner = new Planner(options);
  await planner.run();
  return { entries: [...planner.out.values()] };
}

interface PendingDir {
  readonly dst: string;
  readonly entry: LayerEntry;
  done: boolean;
}

class Planner {
  readonly out = new Map<string, LayerEntry>();
  readonly #o: CopyPlanOptions;
  readonly #work: OverlayFsView;
  readonly #tree: SourceTree;
  readonly #verb: 'COPY' | 'ADD';
  readonly #mode: number | undefined;
  readonly #exclude: IgnoreMatcher | undefined;
  readonly #inodes = new Map<string, string>();
  readonly #createdOwner: Owner;

  constructor(options: CopyPlanOptions) {
    this.#o = options;
    this.#work = new OverlayFsView(options.view);
    this.#tree = options.source;
    this.#verb = options.instruction ?? 'COPY';
    this.#mode =
      options.chmod === undefined
        ? undefined
        : typeof options.chmod === 'number'
          ? options.chmod & 0o7777
          : parseChmod(options.chmod);
    this.#exclude =
      options.exclude && options.exclude.length > 0
        ? createIgnoreMatcher(options.exclude, { origin: `${this.#verb} --exclude` })
        : undefined;
    this.#createdOwner = options.chown ?? { uid: 0, gid: 0 };
  }

  async run(): Promise<void> {
    let dest = this.#o.dest;
    if (dest === '' || dest === '.') dest = './';
    const dirHint = dest.endsWith('/') || dest.endsWith('/.');
    const workdir = this.#o.workdir ?? '/';
    const destClean = cleanImagePath(dest.startsWith('/') ? dest : path.posix.join(workdir, dest));

    const items: SourceItem[] = [];
    for (const given of this.#o.sources) items.push(...(await this.#expand(given)));

    // Several sources and a destination not written as a directory: BuildKit copies each in turn,
    // so they go into it when it is (or becomes) a directory, and each file replaces the one before
    // otherwise. No error (the classic builder's "must end with a /" is not BuildKit's).
    for (const item of items) await this.#copyItem(item, destClean, dirHint);
  }

  /** One user-given source → the items it names (wildcards expanded). */
  async #expand(given: string): Promise<SourceItem[]> {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(given) || given.startsWith('git@')) {
      throw new WharfError<CopyPlanErrorCode>(
        'COPY_UNSUPPORTED_SOURCE',
        this.#verb === 'COPY'
          ? `source can't be a URL for COPY: ${given}`
          : `ADD from a URL or git repository is not supported by the direct backend yet: ${given}`,
        {
          hint:
            this.#verb === 'COPY'
              ? 'use ADD for remote sources'
              : 'download it in a RUN step, or build with BuildKit',
        },
      );
    }
    if (this.#o.parents) {
      const cut = given.indexOf('/./');
      const pivot = cut < 0 ? '' : given.slice(0, cut);
      const pattern = cleanImagePath(cut < 0 ? given : given.slice(cut + 3));
      return [
        {
          given,
          path: cleanSourcePath(this.#tree, pivot),
          name: '',
          include: pattern === '' ? '**' : pattern,
        },
      ];
    }
    const clean = cleanSourcePath(this.#tree, given);
    const { base, rest } = splitWildcards(clean);
    if (rest === '') return [{ given, path: clean, name: baseOf(clean) }];
    const baseResolved = await resolveSource(this.#tree, base);
    const st = await this.#tree.lstat(baseResolved);
    if (!st) throw this.#notFound(base === '' ? given : base);
    if (st.type !== 'dir') return [];
    globMatch(rest, ''); // report a malformed pattern even when the directory is empty
    const matches: string[] = [];
    const depth = rest.split('/').length;
    const visit = async (dir: string, rel: string, level: number): Promise<void> => {
      for (const name of await this.#tree.readdir(dir)) {
        const relPath = rel === '' ? name : `${rel}/${name}`;
        const full = joinImagePath(dir, name);
        if (globMatch(rest, relPath)) matches.push(full);
        else if (level + 1 < depth && (await this.#tree.lstat(full))?.type === 'dir') {
          await visit(full, relPath, level + 1);
        }
      }
    };
    await visit(baseResolved, '', 0);
    return matches.map((m) => ({ given, path: m, name: baseOf(m) }));
  }

  async #copyItem(item: SourceItem, destClean: string, dirHint: boolean): Promise<void> {
    const ensure = dirHint ? destClean : parentOf(destClean);
    if (ensure !== '') this.#mkdirAll(resolveInView(this.#work, ensure), this.#createdOwner);
    let dst = resolveInView(this.#work, destClean);

    const srcPath = await resolveSource(this.#tree, item.path);
    const st = await this.#tree.lstat(srcPath);
    if (!st) {
      if (item.include !== undefined) return; // --parents: a missing pivot copies nothing, as in BuildKit
      throw this.#notFound(item.given);
    }
    if (this.#verb === 'ADD' && st.type === 'file') {
      const compression = await detectArchive(st.absPath);
      if (compression !== undefined) {
        await this.#unpack(item, st, compression, dst);
        return;
      }
    }
    const existing = this.#work.lookup(dst);
    if (st.type !== 'dir' && existing?.type === 'dir') dst = joinImagePath(dst, item.name);
    const target = st.type === 'dir' && !existing ? dst : parentOf(dst);
    if (target !== '') this.#mkdirAll(target, this.#createdOwner);
    const include =
      item.include !== undefined
        ? createIgnoreMatcher([item.include], { origin: `${this.#verb} --parents` })
        : undefined;
    await this.#copy(
      srcPath,
      '',
      dst,
      false,
      { include, includePattern: item.include },
      [],
      undefined,
      undefined,
    );
  }

  async #copy(
    src: string,
    components: string,
    dst: string,
    overwriteMeta: boolean,
    filter: { include: IgnoreMatcher | undefined; includePattern: string | undefined },
    pending: readonly PendingDir[],
    excludeInfo: ParentMatchInfo | undefined,
    includeInfo: ParentMatchInfo | undefined,
  ): Promise<void> {
    const st = await this.#tree.lstat(src);
    if (!st) throw this.#notFound(src);
    let excluded = false;
    let included = true;
    let nextExclude: ParentMatchInfo | undefined;
    let nextInclude: ParentMatchInfo | undefined;
    if (components !== '') {
      if (this.#exclude)
        ({ excluded, info: nextExclude } = this.#exclude.matchWithParent(components, excludeInfo));
      if (filter.include)
        ({ excluded: included, info: nextInclude } = filter.include.matchWithParent(components, includeInfo));
    }
    const skip = excluded || !included;

    if (st.type !== 'dir') {
      if (skip) return;
      if (st.type === 'other') {
        throw new WharfError<CopyPlanErrorCode>(
          'COPY_SPECIAL_FILE',
          `${this.#verb} cannot copy ${src || '.'} from ${this.#tree.description}: it is a socket, FIFO or device node`,
          { hint: `remove it, or leave it out with .dockerignore or ${this.#verb} --exclude` },
        );
      }
      this.#flush(pending);
      if (this.#work.lookup(dst)?.type === 'dir') {
        throw new WharfError<CopyPlanErrorCode>(
          'COPY_CANNOT_REPLACE_DIRECTORY',
          `cannot replace to directory /${dst} with file (${this.#verb} ${src || '.'})`,
          {
            hint: 'the image has a directory where the source has a file or symlink; remove it first or copy elsewhere',
          },
        );
      }
      this.#emit(this.#leafEntry(st, dst));
      return;
    }

    if (excluded && !this.#exclude?.mayReinclude(components)) return;
    if (!included && filter.includePattern !== undefined && !mayMatchBelow(filter.includePattern, components))
      return;
    const existing = this.#work.lookup(dst);
    const dirEntry: LayerEntry = { type: 'dir', path: dst, ...this.#meta(st) };
    let childPending: readonly PendingDir[] = [];
    if (skip) {
      childPending = [...pending, { dst, entry: dirEntry, done: false }];
    } else {
      this.#flush(pending);
      this.#checkDir(existing, dst);
      if (!existing || overwriteMeta) this.#emit(dirEntry);
    }
    for (const name of await this.#tree.readdir(src)) {
      await this.#copy(
        joinImagePath(src, name),
        joinImagePath(components, name),
        joinImagePath(dst, name),
        true,
        filter,
        childPending,
        nextExclude,
        nextInclude,
      );
    }
  }

  /** Creates the excluded-but-needed parent directories of an included entry. */
  #flush(pending: readonly PendingDir[]): void {
    for (const p of pending) {
      if (p.done) continue;
      p.done = true;
      this.#checkDir(this.#work.lookup(p.dst), p.dst);
      this.#emit(p.entry);
    }
  }

  #checkDir(existing: { type: string } | undefined, dst: string): void {
    if (existing && existing.type !== 'dir') {
      throw new WharfError<CopyPlanErrorCode>(
        'COPY_NOT_A_DIRECTORY',
        `cannot copy to non-directory: /${dst}`,
        {
          hint: 'the image has a file or symlink where the source has a directory; remove it first or copy elsewhere',
        },
      );
    }
  }

  #meta(st: SourceStat): { mode: number; uid: number; gid: number } {
    const owner = this.#o.chown ?? { uid: st.uid, gid: st.gid };
    return { mode: this.#mode ?? st.mode, uid: owner.uid, gid: owner.gid };
  }

  #leafEntry(st: SourceStat, dst: string): LayerEntry {
    if (st.type === 'symlink') {
      const owner = this.#o.chown ?? { uid: st.uid, gid: st.gid };
      return { type: 'symlink', path: dst, mode: 0o777, ...owner, linkTarget: st.linkTarget ?? '' };
    }
    const meta = this.#meta(st);
    if (st.nlink > 1) {
      const key = `${st.dev}:${st.ino}`;
      const first = this.#inodes.get(key);
      if (first !== undefined && first !== dst && this.out.get(first)?.type === 'file') {
        return { type: 'hardlink', path: dst, ...meta, linkTarget: first };
      }
      this.#inodes.set(key, dst);
    }
    const content: FileContent = {
      kind: 'path',
      path: st.absPath,
      ...(st.mtimeNs !== undefined ? { seen: { mtimeNs: st.mtimeNs, ino: st.ino, dev: st.dev } } : {}),
    };
    return { type: 'file', path: dst, ...meta, size: st.size, content };
  }

  /** Creates `clean` (already resolved) and its missing parents as directories. */
  #mkdirAll(clean: string, owner: Owner): void {
    let cur = '';
    for (const name of clean.split('/')) {
      if (name === '') continue;
      cur = joinImagePath(cur, name);
      const st = this.#work.lookup(cur);
      if (st?.type === 'dir') continue;
      if (st) {
        throw new WharfError<CopyPlanErrorCode>(
          'COPY_NOT_A_DIRECTORY',
          `cannot create directory /${clean}: /${cur} is not a directory`,
          { hint: `a file or symlink is in the way of the ${this.#verb} destination` },
        );
      }
      this.#emit({ type: 'dir', path: cur, mode: 0o755, ...owner });
    }
  }

  #emit(entry: LayerEntry): void {
    this.#ensureAncestors(entry.path);
    this.out.set(entry.path, entry);
    this.#work.set(entry.path, statOfEntry(entry, this.#work));
  }

  /** Lists every ancestor before its descendants: existing ones with their current metadata. */
  #ensureAncestors(p: string): void {
    // Every listed path has its ancestors listed before it: a listed parent means nothing to do.
    const parent = parentOf(p);
    if (parent === '' || this.out.has(parent)) return;
    const parts = p.split('/');
    let cur = '';
    for (let i = 0; i < parts.length - 1; i++) {
      cur = joinImagePath(cur, parts[i] as string);
      if (this.out.has(cur)) continue;
      const st = this.#work.lookup(cur);
      const meta = st?.type === 'dir' ? st : { mode: 0o755, ...this.#createdOwner };
      this.out.set(cur, { type: 'dir', path: cur, mode: meta.mode, uid: meta.uid, gid: meta.gid });
    }
  }

  #notFound(given: string): WharfError<CopyPlanErrorCode> {
    const shown = `/${cleanImagePath(given)}`;
    return new WharfError<CopyPlanErrorCode>(
      'COPY_SOURCE_NOT_FOUND',
      `${this.#verb} failed: "${shown}" not found in ${this.#tree.description}`,
      {
        hint:
          this.#tree.kind === 'context'
            ? 'check the path (sources are relative to the context root) and that .dockerignore does not exclude it'
            : 'check the path in the source stage',
      },
    );
  }

  /** ADD of a local tar archive: its members are extracted into the destination directory. */
  async #unpack(item: SourceItem, st: SourceStat, compression: Compression, dest: string): Promise<void> {
    this.#mkdirAll(dest, this.#createdOwner);
    const members = new Map<string, string>();
    for await (const member of readArchive(st.absPath, compression)) {
      const h = member.header;
      const name = cleanMemberName(h.name, item.given);
      const meta = { mode: (h.mode ?? 0) & 0o7777, uid: h.uid ?? 0, gid: h.gid ?? 0 };
      if (name === '') {
        if (h.type === 'directory' && dest !== '') this.#emit({ type: 'dir', path: dest, ...meta });
        continue;
      }
      // Members resolve with the destination as their root (BuildKit untars chrooted into it).
      const parent = resolveUnder(this.#work, dest, parentOf(name));
      if (!this.#work.lookup(parent)) this.#mkdirAll(parent, { uid: 0, gid: 0 });
      this.#checkDir(this.#work.lookup(parent), parent);
      const target = joinImagePath(parent, baseOf(name));
      switch (h.type) {
        case 'directory':
          this.#checkDir(this.#work.lookup(target), target);
          this.#emit({ type: 'dir', path: target, ...meta });
          break;
        case 'file':
        case 'contiguous-file':
        case undefined:
          this.#emit({
            type: 'file',
            path: target,
            ...meta,
            size: h.size ?? 0,
            content: { kind: 'archive', archive: st.absPath, compression, member: member.index },
          });
          break;
        case 'symlink':
          this.#emit({ type: 'symlink', path: target, ...meta, mode: 0o777, linkTarget: h.linkname ?? '' });
          break;
        case 'link': {
          const linked = members.get(cleanMemberName(h.linkname ?? '', item.given));
          if (linked === undefined || this.out.get(linked)?.type !== 'file') {
            throw new WharfError<CopyPlanErrorCode>(
              'ADD_BAD_ARCHIVE',
              `${item.given}: member ${h.name} is a hard link to ${h.linkname}, which is not a file earlier in the archive`,
            );
          }
          this.#emit({ type: 'hardlink', path: target, ...meta, linkTarget: linked });
          break;
        }
        default:
          throw new WharfError<CopyPlanErrorCode>(
            'COPY_SPECIAL_FILE',
            `ADD cannot unpack ${item.given}: member ${h.name} is a ${h.type} (devices and FIFOs are not supported)`,
            { hint: 'repack the archive without device nodes and FIFOs' },
          );
      }
      members.set(name, target);
    }
  }
}

/** A member name as Docker's untar sees it: cleaned, a leading `/` dropped; `..` escaping the destination is an error. */
function cleanMemberName(name: string, archive: string): string {
  const norm = path.posix.normalize(name.replace(/^\/+/, '') || '.');
  if (norm === '..' || norm.startsWith('../')) {
    throw new WharfError<CopyPlanErrorCode>(
      'ADD_BAD_ARCHIVE',
      `${archive}: member ${name} would be written outside the destination`,
      { hint: 'the archive is malformed or malicious; repack it with relative member names' },
    );
  }
  return norm === '.' ? '' : norm.replace(/\/$/, '');
}

/** Whether the include pattern of `--parents` could match something at or below directory `dir`. */
function mayMatchBelow(pattern: string, dir: string): boolean {
  const ps = pattern.split('/');
  const ds = dir.split('/');
  for (let i = 0; i < ds.length; i++) {
    const p = ps[i];
    if (p === undefined) return false;
    if (p.includes('**')) return true;
    try {
      if (hasWildcards(p) ? !globMatch(p, ds[i] as string) : p !== ds[i]) return false;
    } catch {
      return true;
    }
  }
  return true;
}
