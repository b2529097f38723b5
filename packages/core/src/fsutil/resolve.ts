/**
 * The one path resolver: a path inside a root, the way containerd continuity's `fs.RootPath` and
 * runc's securejoin resolve it. Each symlink met on the way is replaced by its target; an absolute
 * target restarts at the root, a relative one continues from the link's directory; `..` never climbs
 * above the root; at most {@link MAX_LINKS} links are followed. Components that do not exist are kept
 * literally (the caller's lstat then finds nothing, or the caller creates them).
 *
 * The algorithm is written once, as a generator that asks "is this path a symlink, and to what?", and
 * driven synchronously (in-memory image views) or asynchronously (directories on disk, the build
 * context). Both ask only about clean relative paths whose parents are already resolved, so a lookup
 * never follows a symlink itself.
 */
import { WharfError } from '../errors.js';

export type FsutilErrorCode = 'PATH_TOO_MANY_LINKS' | 'PATH_OUTSIDE_ROOT' | 'PATH_CANNOT_OPEN';

/** Linux's limit (`MAXSYMLINKS` is 40 per lookup; containerd and securejoin allow 255 over a whole path). */
export const MAX_LINKS = 255;

/** The symlink target text at clean relative path `rel` (never `''`), or `undefined` when it is not a symlink or absent. */
export type ReadLinkSync = (rel: string) => string | undefined;
export type ReadLink = (rel: string) => Promise<string | undefined> | string | undefined;

export interface ResolveOptions {
  /** Follow a symlink in the last component too (stat semantics). Default true; false gives lstat semantics. */
  readonly followFinal?: boolean;
  /**
   * `clamp` (default): the root acts as `/` — `..` stops there and absolute targets restart there, as in
   * an image or a stage's tree. `refuse`: either one is a {@link PathOutsideRootError} (the build
   * context for COPY, which refuses links that point out of it).
   */
  readonly escape?: 'clamp' | 'refuse';
}

/** A path that would leave its root, in `escape: 'refuse'` mode. */
export class PathOutsideRootError extends WharfError<FsutilErrorCode> {
  /** `dotdot`: a `..` above the root (in the path, or in a link's target); `absolute`: a link to an absolute path. */
  readonly reason: 'dotdot' | 'absolute';
  /** The link that led out (clean relative path), when a link did. */
  readonly link: string | undefined;
  readonly target: string | undefined;

  constructor(path: string, reason: 'dotdot' | 'absolute', link?: string, target?: string) {
    super(
      'PATH_OUTSIDE_ROOT',
      link === undefined
        ? `${path} points above the root`
        : `${path}: /${link} is a symlink to ${target}, outside the root`,
    );
    this.reason = reason;
    this.link = link;
    this.target = target;
  }
}

/** `a//b/./c/` → `['a','b','c']`; `..` is kept for the resolver. */
export function pathComponents(p: string): string[] {
  return p.split('/').filter((c) => c !== '' && c !== '.');
}

/**
 * The resolution of `p`, as a generator: it yields each clean relative path it needs to know about and
 * expects back that path's link target (`undefined`: not a symlink). Returns the clean relative path
 * (`''` is the root).
 */
function* resolution(p: string, options: ResolveOptions): Generator<string, string, string | undefined> {
  const followFinal = options.followFinal ?? true;
  const refuse = options.escape === 'refuse';
  let pending = pathComponents(p);
  const current: string[] = [];
  let links = 0;
  let via: { link: string; target: string } | undefined;
  while (pending.length > 0) {
    const [name, ...rest] = pending as [string, ...string[]];
    pending = rest;
    if (name === '..') {
      if (current.length === 0) {
        if (refuse) throw new PathOutsideRootError(p, 'dotdot', via?.link, via?.target);
        continue;
      }
      current.pop();
      continue;
    }
    const candidate = current.length === 0 ? name : `${current.join('/')}/${name}`;
    if (pending.length === 0 && !followFinal) {
      current.push(name);
      break;
    }
    const target = yield candidate;
    if (target === undefined) {
      current.push(name);
      continue;
    }
    if (++links > MAX_LINKS) {
      throw new WharfError<FsutilErrorCode>(
        'PATH_TOO_MANY_LINKS',
        `too many levels of symbolic links resolving ${p} (at /${candidate})`,
        { hint: 'a symlink loop (or a chain of more than 255 links): fix the link targets' },
      );
    }
    via = { link: candidate, target };
    if (target.startsWith('/')) {
      if (refuse) throw new PathOutsideRootError(p, 'absolute', candidate, target);
      current.length = 0;
    }
    pending = [...pathComponents(target), ...pending];
  }
  return current.join('/');
}

/** {@link resolution} driven synchronously (in-memory views). */
export function resolveInRootSync(readLink: ReadLinkSync, p: string, options: ResolveOptions = {}): string {
  const steps = resolution(p, options);
  let step = steps.next();
  while (!step.done) step = steps.next(readLink(step.value));
  return step.value;
}

/** {@link resolution} driven asynchronously (directories on disk, the build context). */
export async function resolveInRoot(
  readLink: ReadLink,
  p: string,
  options: ResolveOptions = {},
): Promise<string> {
  const steps = resolution(p, options);
  let step = steps.next();
  while (!step.done) step = steps.next(await readLink(step.value));
  return step.value;
}
