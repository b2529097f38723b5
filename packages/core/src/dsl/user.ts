/**
 * A non-root user for the final image: create it (when the base has a shell) and switch to it, by number
 * so USER works even where no passwd entry could be written.
 *
 * @example nonRootUser(stage('app').from('node:20-alpine').copy('.', '/app')).cmd(['node', '/app/server.js'])
 */
import { WharfError } from '../errors.js';
import type { Stage } from './stage.js';
import { checkOptions, optionNames } from './usage.js';

export interface NonRootUserOptions {
  /** User and group name. Default `app`. */
  readonly name?: string;
  /** Default 10001: above the ranges distributions hand out, so it matches no host user. */
  readonly uid?: number;
  /** Default: the uid. */
  readonly gid?: number;
  /**
   * Create the user and group with a RUN (`useradd` where the base has it, else busybox `adduser`).
   * Default true; `false` for bases without a shell (scratch, distroless): USER uid:gid alone.
   */
  readonly create?: boolean;
}

const NAME = /^[a-z_][a-z0-9_-]{0,31}$/;

/**
 * The stage with an unprivileged user created (`useradd`, or busybox `adduser`) and set as USER `uid:gid`.
 * @example nonRootUser(stage('app').from('node:20-alpine'), { name: 'app', uid: 10001 }).cmd(['node', 'server.js'])
 */
export function nonRootUser(stage: Stage, options: NonRootUserOptions = {}): Stage {
  checkOptions(
    'nonRootUser()',
    options,
    optionNames<NonRootUserOptions>({ name: true, uid: true, gid: true, create: true }),
  );
  const name = options.name ?? 'app';
  const uid = options.uid ?? 10001;
  const gid = options.gid ?? uid;
  if (!NAME.test(name)) {
    throw new WharfError('DSL_BAD_USER', `nonRootUser(): "${name}" is not a valid user name`, {
      hint: 'use lowercase letters, digits, _ and -, starting with a letter (at most 32)',
    });
  }
  for (const [what, id] of [
    ['uid', uid],
    ['gid', gid],
  ] as const) {
    if (!Number.isInteger(id) || id < 1 || id > 2 ** 31 - 2) {
      throw new WharfError('DSL_BAD_USER', `nonRootUser(): ${what} ${id} is not a non-root id`, {
        hint: `give a whole number from 1 up, e.g. ${what}: 10001`,
      });
    }
  }
  if (options.create === false) return stage.user(uid, gid);
  const script =
    `if command -v useradd >/dev/null 2>&1; then groupadd --gid ${gid} ${name} && ` +
    `useradd --uid ${uid} --gid ${gid} --no-create-home --shell /usr/sbin/nologin ${name}; ` +
    `else addgroup -g ${gid} ${name} && adduser -D -H -u ${uid} -G ${name} -s /sbin/nologin ${name}; fi`;
  return stage.run(script).user(uid, gid);
}
