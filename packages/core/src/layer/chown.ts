/**
 * `COPY/ADD --chown` and `--chmod` values, with BuildKit's rules (`llb.WithUser` + the file op's
 * `readUser`): `user[:group]`, each part numeric or a name. A numeric user without a group gets its
 * own number as gid; a user name without a group gets its primary gid from `/etc/passwd`; a group
 * name is looked up in `/etc/group`. Names are read from the *destination* stage's filesystem.
 */
import { WharfError } from '../errors.js';

export type ChownErrorCode = 'COPY_BAD_CHOWN' | 'COPY_UNKNOWN_USER' | 'COPY_UNKNOWN_GROUP' | 'COPY_BAD_CHMOD';

export interface Owner {
  readonly uid: number;
  readonly gid: number;
}

/** Reads a file of the destination stage (`/etc/passwd`, `/etc/group`); `undefined` when it does not exist. */
export type ReadStageFile = (path: string) => Promise<string | Uint8Array | undefined>;

const MAX_ID = 0xffffffff;

function numericId(s: string): number | undefined {
  if (!/^[0-9]+$/.test(s)) return undefined;
  const n = Number(s);
  return n <= MAX_ID ? n : undefined;
}

/**
 * Resolves a `--chown` spec to numeric ids. Unknown names (or a missing `/etc/passwd` /
 * `/etc/group`) are `COPY_UNKNOWN_USER` / `COPY_UNKNOWN_GROUP` errors.
 */
export async function resolveChown(spec: string, readFile: ReadStageFile): Promise<Owner> {
  if (spec.trim() === '') {
    throw new WharfError<ChownErrorCode>(
      'COPY_BAD_CHOWN',
      '--chown needs a value: user, user:group, uid or uid:gid',
    );
  }
  const colon = spec.indexOf(':');
  const user = colon < 0 ? spec : spec.slice(0, colon);
  const group = colon < 0 ? undefined : spec.slice(colon + 1);
  let uid = 0;
  let gid = 0;
  if (user !== '') {
    const id = numericId(user);
    if (id !== undefined) {
      uid = id;
      gid = id;
    } else {
      const entry = findEntry(await readText(readFile, '/etc/passwd'), user, 4);
      if (!entry) {
        throw new WharfError<ChownErrorCode>(
          'COPY_UNKNOWN_USER',
          `--chown=${spec}: no user "${user}" in /etc/passwd`,
          {
            hint: 'create the user in an earlier RUN step, or pass numeric ids (--chown=1000:1000)',
          },
        );
      }
      uid = toId(entry[2]);
      gid = toId(entry[3]);
    }
  }
  if (group !== undefined && group !== '') {
    const id = numericId(group);
    if (id !== undefined) gid = id;
    else {
      const entry = findEntry(await readText(readFile, '/etc/group'), group, 3);
      if (!entry) {
        throw new WharfError<ChownErrorCode>(
          'COPY_UNKNOWN_GROUP',
          `--chown=${spec}: no group "${group}" in /etc/group`,
          {
            hint: 'create the group in an earlier RUN step, or pass a numeric gid',
          },
        );
      }
      gid = toId(entry[2]);
    }
  }
  return { uid, gid };
}

async function readText(readFile: ReadStageFile, file: string): Promise<string> {
  const data = await readFile(file);
  if (data === undefined) return '';
  return typeof data === 'string' ? data : Buffer.from(data).toString('utf8');
}

/** The first line whose first field is `name` (runc's passwd/group parser: lines trimmed, blanks and `#` skipped). */
function findEntry(text: string, name: string, minFields: number): string[] | undefined {
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(':');
    while (fields.length < minFields) fields.push('');
    if (fields[0] === name) return fields;
  }
  return undefined;
}

function toId(field: string | undefined): number {
  const n = Number.parseInt(field ?? '', 10);
  return Number.isFinite(n) && n >= 0 ? n : 0;
}

/**
 * Parses `--chmod` as BuildKit does for octal values: digits 0–7, at most `07777`. Symbolic modes
 * (`u+x`, newer BuildKit) are not supported and are reported as such.
 */
export function parseChmod(spec: string): number {
  if (!/^[0-7]+$/.test(spec) || Number.parseInt(spec, 8) > 0o7777) {
    throw new WharfError<ChownErrorCode>(
      'COPY_BAD_CHMOD',
      `invalid chmod parameter: '${spec}'. it should be octal string and between 0 and 07777`,
      { hint: 'write the mode in octal, e.g. --chmod=755 or --chmod=0644' },
    );
  }
  return Number.parseInt(spec, 8);
}
