/**
 * `USER` for a RUN step, resolved inside the step's root filesystem (never the host's), with the rules
 * BuildKit takes from runc's libcontainer `user.GetExecUser`:
 *
 * - empty → root `0:0`;
 * - `uid:gid` both numeric → as given, no lookups, no supplementary groups;
 * - a name must be in `/etc/passwd` (`RUN_UNKNOWN_USER` otherwise); a numeric uid that is not listed runs
 *   with gid 0;
 * - `:group` is a name from `/etc/group` or a number; without it the user's primary gid is used and
 *   the groups that list the user as a member are added as supplementary gids.
 */
import type { ResolvedUser } from './bundle.js';
import { RuntimeError } from './errors.js';
import { readFileInRoot } from './rootfs.js';

export interface PasswdEntry {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

export interface GroupEntry {
  readonly name: string;
  readonly gid: number;
  readonly members: readonly string[];
}

/** `/etc/passwd` lines → entries (malformed lines are skipped, as libcontainer does). */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    if (f.length < 4 || !Number.isInteger(uid) || !Number.isInteger(gid) || f[2] === '' || f[3] === '')
      continue;
    out.push({ name: f[0] ?? '', uid, gid, home: f[5] ?? '' });
  }
  return out;
}

/** `/etc/group` lines → entries. */
export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    const gid = Number(f[2]);
    if (f.length < 3 || f[2] === '' || !Number.isInteger(gid)) continue;
    out.push({
      name: f[0] ?? '',
      gid,
      members: (f[3] ?? '')
        .split(',')
        .map((m) => m.trim())
        .filter(Boolean),
    });
  }
  return out;
}

const isNumeric = (s: string): boolean => /^[0-9]+$/.test(s);

/** Resolves `spec` against passwd/group contents (undefined: the file is missing). */
export function resolveUserSpec(
  spec: string | undefined,
  passwd: string | undefined,
  group: string | undefined,
): ResolvedUser {
  const text = (spec ?? '').trim();
  if (text === '') return { uid: 0, gid: 0, additionalGids: [] };
  const colon = text.indexOf(':');
  const userPart = colon < 0 ? text : text.slice(0, colon);
  const groupPart = colon < 0 ? undefined : text.slice(colon + 1);
  if (groupPart !== undefined && isNumeric(userPart) && isNumeric(groupPart)) {
    return { uid: Number(userPart), gid: Number(groupPart), additionalGids: [] };
  }
  const users = parsePasswd(passwd ?? '');
  const groups = parseGroup(group ?? '');
  const found = isNumeric(userPart)
    ? users.find((u) => u.uid === Number(userPart))
    : users.find((u) => u.name === userPart);
  if (!found && !isNumeric(userPart)) {
    throw new RuntimeError(
      'RUN_UNKNOWN_USER',
      `unable to find user ${userPart}: no matching entries in passwd file`,
      {
        hint: `add the user in an earlier step (RUN adduser ${userPart}) or use a numeric uid`,
      },
    );
  }
  const uid = found?.uid ?? Number(userPart);
  let gid = found?.gid ?? 0;
  let additionalGids: number[] = [];
  if (groupPart !== undefined && groupPart !== '') {
    if (isNumeric(groupPart)) gid = Number(groupPart);
    else {
      const g = groups.find((entry) => entry.name === groupPart);
      if (!g) {
        throw new RuntimeError(
          'RUN_UNKNOWN_GROUP',
          `unable to find group ${groupPart}: no matching entries in group file`,
          {
            hint: `add the group in an earlier step (RUN addgroup ${groupPart}) or use a numeric gid`,
          },
        );
      }
      gid = g.gid;
    }
  } else if (found) {
    additionalGids = [
      ...new Set(groups.filter((g) => g.members.includes(found.name)).map((g) => g.gid)),
    ].filter((g) => g !== gid);
  }
  return { uid, gid, additionalGids };
}

/** Resolves `spec` (the stage's USER) inside `rootfs`. */
export async function resolveUser(rootfs: string, spec: string | undefined): Promise<ResolvedUser> {
  const text = (spec ?? '').trim();
  if (text === '' || /^[0-9]+:[0-9]+$/.test(text)) return resolveUserSpec(text, undefined, undefined);
  const [passwd, group] = await Promise.all([
    readFileInRoot(rootfs, '/etc/passwd'),
    readFileInRoot(rootfs, '/etc/group'),
  ]);
  return resolveUserSpec(text, passwd?.toString('utf8'), group?.toString('utf8'));
}
