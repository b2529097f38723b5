/**
 * A non-root user for the final image: create it (when the base has a shell) and switch to it, by number
 * so USER works even where no passwd entry could be written.
 *
 * @example stage('app').from('node:20-alpine').copy('.', '/app').user(nonRootUser()).cmd(['node', '/app/server.js'])
 */
import { WharfError } from '../errors.js';
import { isStage, type Stage } from './stage.js';
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

export const NON_ROOT_USER_BRAND = Symbol.for('wharf.nonRootUser');

/** What `.user()` takes to create an unprivileged user and switch to it: made by `nonRootUser()`. */
export interface NonRootUser {
  readonly [NON_ROOT_USER_BRAND]: true;
  readonly uid: number;
  readonly gid: number;
  /** The RUN that creates the user and group; absent with `create: false`. */
  readonly script: string | undefined;
}

/**
 * An unprivileged user for the final image: `.user(nonRootUser())` creates it (`useradd`, or busybox
 * `adduser`) and sets USER `uid:gid`. `nonRootUser(stage, options)` does the same to `stage`.
 * @example
 * stage('app').from('node:20-alpine').copy('.', '/app').user(nonRootUser({ name: 'app', uid: 10001 })).cmd(['node', '/app/server.js'])
 * nonRootUser(stage('app').from('node:20-alpine'), { name: 'app' }) // the same, wrapping the stage
 */
export function nonRootUser(options?: NonRootUserOptions): NonRootUser;
export function nonRootUser(stage: Stage, options?: NonRootUserOptions): Stage;
export function nonRootUser(
  first: Stage | NonRootUserOptions = {},
  second: NonRootUserOptions = {},
): NonRootUser | Stage {
  if (isStage(first)) return first.user(nonRootUser(second));
  const options = first;
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
  const script =
    options.create === false
      ? undefined
      : `if command -v useradd >/dev/null 2>&1; then groupadd --gid ${gid} ${name} && ` +
        `useradd --uid ${uid} --gid ${gid} --no-create-home --shell /usr/sbin/nologin ${name}; ` +
        `else addgroup -g ${gid} ${name} && adduser -D -H -u ${uid} -G ${name} -s /sbin/nologin ${name}; fi`;
  return { [NON_ROOT_USER_BRAND]: true, uid, gid, script };
}

export function isNonRootUser(value: unknown): value is NonRootUser {
  return typeof value === 'object' && value !== null && NON_ROOT_USER_BRAND in value;
}
