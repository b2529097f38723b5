/**
 * Upload sessions that outlive the process. Our blobs sit on disk by digest, so a push killed in the
 * middle of a large blob can continue where the registry stopped: each session (its Location URL and
 * the offset the registry acknowledged) is saved after every chunk, and the next push asks the
 * registry for the session's status (`GET <location>` → `Range`) and continues from there.
 *
 * `UploadSessions` is the small interface the push uses; {@link fileUploadSessions} keeps one JSON file
 * per (registry, repository, digest) in a directory (the engine passes `<store root>/uploads`), written
 * atomically, mode 0600 (a Location is a capability for that upload).
 */
import { createHash } from 'node:crypto';
import { readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../fsutil/files.js';

export interface UploadSession {
  readonly registry: string;
  readonly repository: string;
  readonly digest: string;
  /** The blob's full size. */
  readonly size: number;
  /** The Location to continue at (absolute URL). */
  readonly location: string;
  /** Bytes the registry acknowledged when this was saved. */
  readonly offset: number;
  /** ISO time of the last save. */
  readonly updatedAt: string;
}

export interface UploadSessions {
  get(digest: string, registry: string, repository: string): Promise<UploadSession | undefined>;
  put(session: UploadSession): Promise<void>;
  delete(digest: string, registry: string, repository: string): Promise<void>;
}

/** The file name for a session: stable, and free of path characters. */
export function sessionFileName(digest: string, registry: string, repository: string): string {
  return `${createHash('sha256').update(`${registry}\n${repository}\n${digest}`).digest('hex').slice(0, 32)}.json`;
}

/** Sessions as JSON files in `dir` (created on first write). */
export function fileUploadSessions(dir: string): UploadSessions & {
  readonly dir: string;
  fileFor(digest: string, registry: string, repository: string): string;
} {
  const fileFor = (digest: string, registry: string, repository: string) =>
    join(dir, sessionFileName(digest, registry, repository));
  return {
    dir,
    fileFor,
    async get(digest, registry, repository) {
      try {
        const doc = JSON.parse(
          await readFile(fileFor(digest, registry, repository), 'utf8'),
        ) as UploadSession;
        const valid =
          doc.digest === digest &&
          doc.registry === registry &&
          doc.repository === repository &&
          typeof doc.location === 'string' &&
          Number.isSafeInteger(doc.offset);
        return valid ? doc : undefined;
      } catch {
        return undefined; // missing or torn: start a new session
      }
    },
    async put(session) {
      const file = fileFor(session.digest, session.registry, session.repository);
      // lost in a crash, the upload starts over, so no fsync
      await writeFileAtomic(file, JSON.stringify(session), { mode: 0o600, dirMode: 0o700, durable: false });
    },
    async delete(digest, registry, repository) {
      await unlink(fileFor(digest, registry, repository)).catch(() => {});
    },
  };
}

/** Sessions in memory: resume within one process only (the default when no directory is given). */
export function memoryUploadSessions(): UploadSessions {
  const map = new Map<string, UploadSession>();
  const key = (digest: string, registry: string, repository: string) =>
    `${registry}\n${repository}\n${digest}`;
  return {
    get: async (digest, registry, repository) => map.get(key(digest, registry, repository)),
    put: async (session) => {
      map.set(key(session.digest, session.registry, session.repository), session);
    },
    delete: async (digest, registry, repository) => {
      map.delete(key(digest, registry, repository));
    },
  };
}
