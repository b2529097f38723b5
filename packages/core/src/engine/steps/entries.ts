/**
 * The layer of a step that planned its entries in memory (COPY, ADD, WORKDIR): the entries go into the
 * stage's view at once (the next step plans against it), and their layer goes through the step runner
 * in the background (tar and hash, uncompressed: outputs compress on demand, see compress.ts).
 *
 * Write-first: when many of the files a step reads from the build context are new to the stat cache
 * (a first build, a fresh checkout), the layer is written before the step is keyed, each file hashed
 * from the bytes the tar writer reads (one pass over the files instead of a hashing pass and then a
 * writing pass), and the key made afterwards from those digests. A hit after all (the same files
 * built before under other inodes) takes the cached layer; the one just written has the same bytes.
 *
 * A layer's bytes are a function of its entries (paths, metadata, contents) and the epoch alone, so
 * the same entries planned twice in one build — the same COPY in each platform's stage, on bases whose
 * existing directories it touches alike — are written once and the layer shared ({@link shareKey}).
 */
import { createHash } from 'node:crypto';
import { isAbsolute, relative } from 'node:path';
import type { FileIdentity } from '../../cache/file-digests.js';
import type { Layer } from '../../image/types.js';
import { applyEntries, type LayerEntry } from '../../layer/entry.js';
import { writeLayer } from '../../layer/layer-writer.js';
import { GZIP_LEVEL, rememberCompressed } from '../compress.js';
import type { StageContext } from '../stage.js';
import type { Executed } from '../step-runner.js';
import type { StepContext } from './context.js';

/** A step's planned entries, what they read (for the cache key), and what to release once written. */
export interface PlannedEntries {
  readonly entries: readonly LayerEntry[];
  /**
   * What the entries read, for the key. Absent for the build context's files: {@link entriesStep}
   * takes their digests from the stat cache, or hashes them while writing the layer (write-first).
   */
  readonly files?: Record<string, string>;
  /**
   * The mounted filesystem the entries' `path` contents are read from when `files` names it by
   * identity (COPY --from a stage or image: its digest) rather than by each file's digest.
   */
  readonly sourceRoot?: string;
  release(): Promise<void>;
  /** Told the step's key once its layer is recorded (a COPY then keeps how to replay it). */
  recorded?(key: string): Promise<void>;
}

/**
 * Finishes a step that planned `planned`: no entries, no layer; otherwise the view is updated and the
 * layer is taken from the cache or written, while the next steps go on.
 */
export async function entriesStep(planned: PlannedEntries, step: StepContext): Promise<void> {
  const { entries } = planned;
  if (entries.length === 0) {
    await planned.release();
    step.record();
    step.report.finished();
    return;
  }
  const { base, ctx } = step;
  applyEntries(base.view, entries);
  base.files.record(entries);
  const gzipToo = ctx.gzipWhileWriting?.(step.stage.name) ?? false;
  let files = planned.files;
  let written: Executed | undefined;
  try {
    if (files === undefined) {
      // Write-first: the layer is written now, this step's key waits for it (the next step is keyed on
      // this one's); the digests then come from the stat cache, filled by the writer.
      if (writesFirst(entries, ctx)) written = await writeShared(planned, ctx, gzipToo);
      files = await entryDigests(entries, ctx);
    }
  } catch (error) {
    await planned.release();
    throw error;
  }
  const layer = step.runner
    .run(
      {
        slot: step.slot,
        facts: step.facts(files),
        alwaysLayer: true,
        execute: () => (written ? Promise.resolve(written) : writeShared(planned, ctx, gzipToo)),
      },
      step.report,
    )
    .then(async (outcome): Promise<Layer> => {
      if (outcome.kind !== 'layer') throw new Error('unreachable: a step with entries always has a layer');
      await planned.recorded?.(outcome.key);
      return outcome.layer;
    })
    .finally(() => planned.release());
  // Keep going: the next step only needs the view, which is already updated. Errors surface at the end.
  layer.catch(() => {});
  step.record(layer);
}

/** Below this many files (and bytes) the stat cache cannot answer, hashing first costs little. */
const WRITE_FIRST_MIN_FILES = 64;
const WRITE_FIRST_MIN_BYTES = 16 * 1024 * 1024;

/**
 * Whether to write the layer before keying the step: many of its context files are unknown to the
 * stat cache, and every file it reads from disk carries the planning lstat (the stat-cache key its
 * digest is recorded under).
 */
function writesFirst(entries: readonly LayerEntry[], ctx: StageContext): boolean {
  const files = readFiles(entries);
  if (files.some((file) => file.stat === undefined || file.archive)) return false;
  // too few to reach either threshold: no need to read the stat cache to know
  const bytes = files.reduce((sum, file) => sum + Number(file.stat?.size ?? 0), 0);
  if (files.length < WRITE_FIRST_MIN_FILES && bytes < WRITE_FIRST_MIN_BYTES) return false;
  const unknown = ctx.fileDigests.unknown(files);
  return unknown.files >= WRITE_FIRST_MIN_FILES || unknown.bytes >= WRITE_FIRST_MIN_BYTES;
}

/**
 * Writes the layer of `planned`, or takes the one this build already writes or wrote for the same
 * entries (another platform's stage): once per {@link shareKey}.
 */
function writeShared(planned: PlannedEntries, ctx: StageContext, gzipToo: boolean): Promise<Executed> {
  const writes = ctx.layerWrites;
  if (!writes) return writeEntries(planned.entries, ctx, gzipToo);
  const key = shareKey(planned, ctx.epoch, gzipToo);
  let write = writes.get(key);
  if (!write) {
    write = writeEntries(planned.entries, ctx, gzipToo);
    writes.set(key, write);
    // a failed write is not shared: the next step with these entries tries (and reports) on its own
    write.catch(() => writes.delete(key));
  }
  return write;
}

/**
 * Everything a layer's bytes depend on: the epoch (every mtime), whether the gzip form is made in the
 * same pass, each entry in order (type, path, mode, owner, size, link target) with where its content
 * comes from, and the contents' digests (`files`: per file, or the --from source's digest, with the
 * paths then relative to that source's root, which is mounted afresh for each step). The parent
 * filesystem counts through the entries: existing directories a COPY passes through are entries with
 * their metadata, and an ownership or destination that differs makes different entries.
 */
export function shareKey(planned: PlannedEntries, epoch: number, gzipToo: boolean): string {
  const { sourceRoot } = planned;
  const located = (path: string): string => {
    if (sourceRoot === undefined) return path;
    const inside = relative(sourceRoot, path);
    return inside.startsWith('..') || isAbsolute(inside) ? path : `<source>/${inside}`;
  };
  // Without `files` (context files, not hashed yet) each file's planning lstat stands for its content,
  // as in the stat cache: one build reads one file once.
  const hash = createHash('sha256').update(JSON.stringify([epoch, gzipToo, planned.files ?? null]));
  for (const entry of planned.entries) {
    const { type, path, mode, uid, gid } = entry;
    const own = [type, path, mode, uid, gid];
    if (entry.type === 'symlink' || entry.type === 'hardlink') own.push(entry.linkTarget);
    else if (entry.type === 'file') {
      const content = entry.content;
      own.push(
        entry.size,
        content.kind === 'path'
          ? planned.files === undefined && content.seen
            ? `${located(content.path)}@${content.seen.mtimeNs}:${content.seen.ino}:${content.seen.dev}`
            : located(content.path)
          : content.kind === 'archive'
            ? `${content.archive}#${content.member}:${content.compression}`
            : createHash('sha256').update(content.data).digest('hex'),
      );
    }
    hash.update(`\n${JSON.stringify(own)}`);
  }
  return hash.digest('hex');
}

/** Writes the layer of `entries` into the store, remembering its view (and gzip form, if made). */
async function writeEntries(
  entries: readonly LayerEntry[],
  ctx: StageContext,
  gzipToo: boolean,
): Promise<Executed> {
  const info = await writeLayer(ctx.store, entries, {
    mtime: ctx.epoch,
    compression: 'none',
    ...(gzipToo ? { alsoGzip: true, gzipLevel: GZIP_LEVEL } : {}),
    // What the tar writer reads is what the key is made of: the stat cache learns it here (write-first).
    onFileHashed: (entry, sha256) => {
      const content = entry.content;
      if (content.kind === 'path' && content.seen) {
        ctx.fileDigests.learn(content.path, { size: entry.size, ...content.seen }, sha256);
      }
    },
  });
  if (info.gzip) await rememberCompressed(ctx.store, info.diffId, info.gzip);
  await ctx.views.remember(info.diffId, entries);
  return { layer: info };
}

/** The files `entries` read from disk, in order, with the planning lstat (the stat-cache key) when known. */
function readFiles(entries: readonly LayerEntry[]): { path: string; stat?: FileIdentity; archive?: true }[] {
  const files: { path: string; stat?: FileIdentity; archive?: true }[] = [];
  for (const entry of entries) {
    if (entry.type !== 'file') continue;
    const content = entry.content;
    if (content.kind === 'path') {
      const seen = content.seen;
      files.push(
        seen
          ? {
              path: content.path,
              stat: { size: entry.size, mtimeNs: seen.mtimeNs, ino: seen.ino, dev: seen.dev },
            }
          : { path: content.path },
      );
    } else if (content.kind === 'archive') files.push({ path: content.archive, archive: true });
  }
  return files;
}

/**
 * What a step's entries read, for its cache key: file contents by digest (through the stat cache),
 * and the metadata of every entry. Context files are named by their context path.
 */
export async function entryDigests(
  entries: readonly LayerEntry[],
  ctx: StageContext,
): Promise<Record<string, string>> {
  // Every file read from disk is hashed in one call, so the misses of a big COPY use all cores.
  const files = readFiles(entries);
  const digests = await ctx.fileDigests.digestMany(files);
  let next = 0;
  // No prototype: a context file named `__proto__` is keyed like any other (on `{}` it was dropped).
  const out = Object.create(null) as Record<string, string>;
  const inContext = contextName(ctx.contextRoot);
  for (const entry of entries) {
    const meta = `${entry.type}:${entry.mode.toString(8)}:${entry.uid}:${entry.gid}`;
    if (entry.type === 'file') {
      const content = entry.content;
      if (content.kind === 'path') {
        out[inContext(content.path)] = `${meta}:/${entry.path}:${digests[next++]}`;
      } else if (content.kind === 'archive') {
        const shown = relative(ctx.contextRoot, content.archive);
        out[`${shown}#${content.member}`] = `${meta}:/${entry.path}:${digests[next++]}`;
      } else {
        out[`/${entry.path}`] = `${meta}:${createHash('sha256').update(content.data).digest('hex')}`;
      }
    } else {
      out[`/${entry.path}`] = entry.type === 'dir' ? meta : `${meta}:${entry.linkTarget}`;
    }
  }
  return out;
}

/**
 * How a file read from disk is named in the key: relative to the context root, or absolute outside
 * it. Planned paths are normalised, so one inside the root is the root, a slash and the rest — a
 * prefix test instead of `path.relative`, which resolved both paths again for each of 26 000 files.
 */
function contextName(root: string): (path: string) => string {
  const prefix = root.endsWith('/') ? root : `${root}/`;
  return (path) => {
    const rest = path.slice(prefix.length);
    if (path.startsWith(prefix) && !rest.startsWith('..') && !/(^|\/)\.{0,2}(\/|$)/.test(rest)) return rest;
    const shown = relative(root, path);
    return shown.startsWith('..') ? path : shown;
  };
}
