/**
 * What a COPY read from its source tree, and a proof that the tree still answers the same. The COPY
 * planner reads the tree only through `lstat` and `readdir`, and what it plans is a function of those
 * answers and of the image below. So a record of the questions it asked, with a digest of the
 * answers, lets a later build ask them again and know, from the digest alone, that planning would
 * give the same entries: a warm 26 000-file COPY replays its cached result instead of planning
 * and keying every file again (engine/steps/copy-replay.ts).
 *
 * An answer covers what the stat cache trusts for a file's content (size, mtime, inode, device) and
 * everything planning uses (type, mode, owner, link count, link target), so a replay is exactly as
 * safe as a stat-cache hit. A directory's answer is its type, mode and owner: its listing is a
 * question of its own, and its mtime changes with entries the ignore rules leave out.
 *
 * @example
 * const { tree, reads } = recordReads(await openContextSource(dir));
 * await planCopy({ ...options, source: tree });
 * const { record, digest } = reads(); // keep both
 * (await replayReads(await openContextSource(dir), record.join(''))) === digest; // unchanged
 */
import { createHash, type Hash } from 'node:crypto';
import type { SourceStat, SourceTree } from './source.js';

/** One question asked of a tree: `l` an lstat, `d` a readdir, of a clean relative path. */
export interface SourceQuery {
  readonly kind: 'l' | 'd';
  readonly path: string;
}

/**
 * The questions asked, in order, as text for a record ({@link encodeQueries}, in pieces), and the
 * sha256 (hex) of that text and of the answers.
 */
export interface SourceReads {
  readonly record: readonly string[];
  readonly digest: string;
}

/**
 * `tree` with every question asked of it recorded; `reads()` gives the questions so far and the
 * digest of them and their answers (call it once planning is over: with an answer still pending the
 * digest is `-`, which no replay gives).
 */
export function recordReads(tree: SourceTree): { tree: SourceTree; reads(): SourceReads } {
  const queries: SourceQuery[] = [];
  const answers = new AnswerDigest();
  const ask = async <T extends Answer>(query: SourceQuery, answer: Promise<T>): Promise<T> => {
    const at = queries.push(query) - 1;
    const value = await answer;
    answers.set(at, value);
    return value;
  };
  return {
    tree: {
      kind: tree.kind,
      description: tree.description,
      lstat: (path) => ask({ kind: 'l', path }, tree.lstat(path)),
      readdir: (path) => ask({ kind: 'd', path }, tree.readdir(path)),
    },
    reads: () => {
      const record = [...encodeQueries(queries)];
      return { record, digest: answers.digest(queries.length, record) };
    },
  };
}

/**
 * The digest of the questions in `record` (the text of {@link SourceReads.record}) and what `tree`
 * answers to them now: equal to the recorded digest exactly when every answer is unchanged; undefined
 * when `record` is not such a text (torn). A question that fails (an unreadable directory) rejects:
 * the caller plans normally, and that reports the error in COPY's words.
 */
export async function replayReads(tree: SourceTree, record: string): Promise<string | undefined> {
  if (record !== '' && !record.endsWith('\0')) return undefined;
  const answers = new AnswerDigest();
  const sync = tree.sync;
  let at = 0;
  // read in place (`l` or `d`, the path, a NUL): an object per question cost more than its answer
  for (let start = 0; start < record.length; at++) {
    const end = record.indexOf('\0', start);
    const kind = record[start];
    const path = record.slice(start + 1, end);
    start = end + 1;
    if (kind === 'l') answers.set(at, sync ? sync.lstat(path) : await tree.lstat(path));
    else if (kind === 'd') answers.set(at, sync ? sync.readdir(path) : await tree.readdir(path));
    else return undefined;
    // answered at once, the questions would hold the event loop: let other steps' I/O run now and then
    if (sync && at % YIELD_EVERY === YIELD_EVERY - 1) await new Promise((resolve) => setImmediate(resolve));
  }
  return answers.digest(at, [record]);
}

/** Questions asked between two turns of the event loop when the tree answers at once (~5 ms). */
const YIELD_EVERY = 512;

/** An lstat's answer (undefined: nothing there) or a readdir's. */
type Answer = SourceStat | undefined | readonly string[];

/**
 * Hashes answers in the order their questions were asked, whatever order they arrive in (an answer
 * waits only until those before it are in). Each is spelled in binary into a buffer that is hashed
 * when full: text spellings of a 26 000-file COPY's bigint stats cost more than the lstats did.
 */
class AnswerDigest {
  readonly #hash: Hash = createHash('sha256');
  readonly #waiting = new Map<number, Answer>();
  readonly #buffer = Buffer.allocUnsafe(64 * 1024);
  /** A file's fields, spelled at once: six numbers, then device, inode and mtime (platform byte order). */
  readonly #fields = new ArrayBuffer(9 * 8);
  readonly #numbersOf = new Float64Array(this.#fields, 0, 6);
  readonly #bigintsOf = new BigUint64Array(this.#fields, 6 * 8, 3);
  readonly #fieldBytes = new Uint8Array(this.#fields);
  #used = 0;
  #next = 0;

  set(at: number, answer: Answer): void {
    if (at !== this.#next) {
      this.#waiting.set(at, answer);
      return;
    }
    this.#spell(answer);
    this.#next++;
    while (this.#waiting.has(this.#next)) {
      this.#spell(this.#waiting.get(this.#next));
      this.#waiting.delete(this.#next++);
    }
  }

  /**
   * The digest of the questions (`record`, the text they were asked from) and the answers, once the
   * first `count` answers are in; `-` when some are missing (never equal to a digest).
   */
  digest(count: number, record: Iterable<string>): string {
    if (this.#next !== count) return '-';
    const answers = this.#hash.copy().update(this.#buffer.subarray(0, this.#used)).digest('hex');
    const hash = createHash('sha256');
    for (const piece of record) hash.update(piece);
    return hash.update(`\0${answers}`).digest('hex');
  }

  /** An answer as a tag (what it is) and its fields; the questions are hashed as their record's text. */
  #spell(answer: Answer): void {
    if (answer === undefined) this.#number(0);
    else if (isNames(answer)) {
      this.#number(1);
      this.#number(answer.length);
      for (const name of answer) this.#text(name);
    } else if (answer.type === 'dir') {
      this.#number(2);
      this.#number(answer.mode);
      this.#number(answer.uid);
      this.#number(answer.gid);
    } else {
      // one typed array for all nine fields: a Buffer write a field (writeBigUInt64LE ~0.6 µs) cost more
      const numbers = this.#numbersOf;
      numbers[0] = TYPE_TAGS[answer.type];
      numbers[1] = answer.mode;
      numbers[2] = answer.uid;
      numbers[3] = answer.gid;
      numbers[4] = answer.size;
      numbers[5] = answer.nlink;
      const bigints = this.#bigintsOf;
      bigints[0] = answer.dev;
      bigints[1] = answer.ino;
      bigints[2] = BigInt.asUintN(64, answer.mtimeNs ?? -1n);
      this.#room(this.#fieldBytes.length);
      this.#buffer.set(this.#fieldBytes, this.#used);
      this.#used += this.#fieldBytes.length;
      if (answer.type === 'symlink') this.#text(answer.linkTarget ?? '');
    }
  }

  #number(value: number): void {
    this.#room(8);
    this.#used = this.#buffer.writeDoubleLE(value, this.#used);
  }

  /** A string as its UTF-8 length, then its bytes: no two sequences of strings spell the same. */
  #text(text: string): void {
    const bytes = Buffer.byteLength(text);
    this.#number(bytes);
    if (bytes > this.#buffer.length) {
      this.#flush();
      this.#hash.update(text);
      return;
    }
    this.#room(bytes);
    this.#used += this.#buffer.write(text, this.#used);
  }

  #room(bytes: number): void {
    if (this.#used + bytes > this.#buffer.length) this.#flush();
  }

  #flush(): void {
    this.#hash.update(this.#buffer.subarray(0, this.#used));
    this.#used = 0;
  }
}

/** An lstat's type as the digest spells it (0–2 are no entry, a listing, a directory). */
const TYPE_TAGS = { file: 3, symlink: 4, other: 5 } as const;

function isNames(answer: SourceStat | readonly string[]): answer is readonly string[] {
  return Array.isArray(answer);
}

/** `queries` as text (`l` or `d`, the path, a NUL: no path holds a NUL), in pieces, for a record. */
function* encodeQueries(queries: readonly SourceQuery[]): Generator<string> {
  const PIECE = 1024;
  for (let at = 0; at < queries.length; at += PIECE) {
    let piece = '';
    for (const { kind, path } of queries.slice(at, at + PIECE)) piece += `${kind}${path}\0`;
    yield piece;
  }
}
