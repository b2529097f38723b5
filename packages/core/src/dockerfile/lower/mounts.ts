/**
 * `RUN --mount=…` values, as BuildKit's `instructions/commands_runmount.go`: Go CSV fields, `type=` first
 * (default `bind`), values go through the shell lexer (here: to Words), then each key is checked for the
 * mount type. Keys the IR mount type has no field for are errors.
 */

import { literalWord } from '../../ir/expand.js';
import type { FromRef, Mount, Word } from '../../ir/types.js';
import type { EscapeToken } from '../parse/index.js';
import { problem, unsupported } from './errors.js';
import { parseCsvRecord, parseGoBool, ramInBytes } from './go.js';
import { hasExpansion, toWord } from './words.js';

const TYPES = ['bind', 'cache', 'tmpfs', 'secret', 'ssh'] as const;
type MountType = (typeof TYPES)[number];

/** Keys each IR mount type can hold (after alias folding). */
const KEYS: Readonly<Record<MountType, readonly string[]>> = {
  bind: ['target', 'source', 'from', 'readwrite'],
  cache: ['target', 'id', 'sharing', 'readonly', 'from', 'source', 'mode', 'uid', 'gid'],
  secret: ['id', 'target', 'env', 'required', 'mode', 'uid', 'gid'],
  ssh: ['id', 'target', 'required', 'mode', 'uid', 'gid'],
  tmpfs: ['target', 'size'],
};

const ALIASES: Readonly<Record<string, string>> = {
  dst: 'target',
  destination: 'target',
  src: 'source',
  ro: 'readonly',
  rw: 'readwrite',
};

export interface MountContext {
  readonly escapeToken: EscapeToken;
  /** Resolves `from=` like COPY --from: a stage name or index, else an image. */
  readonly resolveFrom: (word: Word) => FromRef;
}

export function parseMount(value: string, context: MountContext): Mount {
  const fields = parseCsvRecord(value);
  let type: MountType = 'bind';
  for (const field of fields) {
    const eq = field.indexOf('=');
    if (eq >= 0 && field.slice(0, eq).toLowerCase() === 'type') {
      const t = field.slice(eq + 1).toLowerCase();
      if (!(TYPES as readonly string[]).includes(t)) {
        throw problem(`unsupported mount type "${field.slice(eq + 1)}"`, `use one of ${TYPES.join(', ')}`);
      }
      type = t as MountType;
    }
  }

  const out: Record<string, unknown> = { type };
  const set = (key: string, v: unknown, field: string) => {
    if (!KEYS[type].includes(key)) {
      if ((key === 'readonly' || key === 'readwrite') && type !== 'cache' && type !== 'bind') return;
      throw problem(`unexpected key '${field.split('=')[0]}' for mount type '${type}'`);
    }
    out[key] = v;
  };
  let readonly: boolean | undefined;
  for (const field of fields) {
    const eq = field.indexOf('=');
    const rawKey = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    const key = ALIASES[rawKey] ?? rawKey;
    if (eq < 0) {
      if (key === 'readonly' || key === 'readwrite') readonly = key === 'readonly';
      else if (key === 'required') {
        if (type !== 'secret' && type !== 'ssh') {
          throw problem(`unexpected key '${rawKey}' for mount type '${type}'`);
        }
        set('required', true, field);
      } else throw problem(`invalid field '${field}' must be a key=value pair`);
      continue;
    }
    const word = toWord(field.slice(eq + 1), context.escapeToken);
    const literal = (what: string): string => {
      if (hasExpansion(word)) {
        throw unsupported(`mount ${what} "${word}" uses a variable`, `write the ${what} literally`);
      }
      return literalWord(word);
    };
    switch (key) {
      case 'type':
        break;
      case 'target':
      case 'source':
      case 'id':
        set(key, word, field);
        break;
      case 'from':
        set('from', context.resolveFrom(word), field);
        break;
      case 'sharing': {
        const sharing = literal('sharing');
        if (!['shared', 'private', 'locked'].includes(sharing)) {
          throw problem(`unsupported sharing value "${sharing}"`, 'use shared, private or locked');
        }
        set('sharing', sharing, field);
        break;
      }
      case 'mode': {
        const mode = literal('mode');
        if (!/^[0-7]+$/.test(mode) || Number.parseInt(mode, 8) > 0xffffffff) {
          throw problem(`invalid value ${mode} for mode`);
        }
        set('mode', mode, field);
        break;
      }
      case 'uid':
      case 'gid': {
        const id = literal(key);
        if (!/^\d+$/.test(id) || Number(id) > 0xffffffff) throw problem(`invalid value for ${key}: ${id}`);
        set(key, Number(id), field);
        break;
      }
      case 'env':
        set('env', literal('env'), field);
        break;
      case 'size':
        set('size', ramInBytes(literal('size')), field);
        break;
      case 'readonly':
      case 'readwrite':
      case 'required': {
        const on = parseGoBool(literal(key));
        if (on === undefined) throw problem(`invalid value for ${rawKey}: ${word}`);
        if (key === 'required') {
          if (type !== 'secret' && type !== 'ssh') {
            throw problem(`unexpected key '${rawKey}' for mount type '${type}'`);
          }
          if (on) set('required', true, field);
        } else readonly = key === 'readonly' ? on : !on;
        break;
      }
      default:
        throw problem(`unexpected key '${rawKey}' in '${field}'`);
    }
  }
  if (type === 'cache' && readonly === true) out.readonly = true;
  if (type === 'bind' && readonly === false) out.readwrite = true;
  // BuildKit mounts a bind without a target at the working directory (and rejects a resolved `/` when
  // it runs): `.` says exactly that.
  if (type === 'bind' && out.target === undefined) out.target = '.';
  if ((type === 'cache' || type === 'tmpfs') && out.target === undefined) {
    throw problem(`mount type=${type} requires a target`, 'add target=/path');
  }
  return out as unknown as Mount;
}
