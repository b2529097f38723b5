/**
 * Builder flags (`--from=build`, `--link`), as BuildKit's `instructions/bflag.go`: each instruction declares
 * its flags and their types; anything else is `unknown flag: --name`.
 */
import { problem, unsupported } from './errors.js';

export type FlagType = 'string' | 'bool' | 'strings';

/** Flag name → type. `unsupported` flags are BuildKit's but have no place in the IR. */
export interface FlagSpec {
  readonly [name: string]: FlagType | 'unsupported';
}

export interface ParsedFlags {
  string(name: string): string | undefined;
  bool(name: string): boolean;
  strings(name: string): string[];
}

export function parseFlags(flags: readonly string[], spec: FlagSpec): ParsedFlags {
  const strings = new Map<string, string[]>();
  const used = new Set<string>();
  for (const arg of flags) {
    if (arg === '--') break;
    if (!arg.startsWith('--')) throw problem(`arg should start with -- : ${arg}`);
    const eq = arg.indexOf('=');
    const flagName = eq < 0 ? arg : arg.slice(0, eq);
    const value = eq < 0 ? undefined : arg.slice(eq + 1);
    const name = flagName.slice(2);
    const type = Object.hasOwn(spec, name) ? spec[name] : undefined;
    if (type === undefined) {
      const known = Object.keys(spec).map((n) => `--${n}`);
      throw problem(
        `unknown flag: ${flagName}`,
        known.length ? `this instruction takes ${known.join(', ')}` : 'this instruction takes no flags',
      );
    }
    if (type === 'unsupported') {
      throw unsupported(`${flagName} is not supported by wharf yet`, `remove ${flagName}`);
    }
    if (used.has(name) && type !== 'strings') throw problem(`duplicate flag specified: ${name}`);
    used.add(name);
    if (type === 'bool') {
      if (value === '') throw problem(`missing a value on flag: ${name}`);
      const lower = value?.toLowerCase() ?? 'true';
      if (lower !== 'true' && lower !== 'false') {
        throw problem(`expecting boolean value for flag ${name}, not: ${value}`);
      }
      strings.set(name, [lower]);
      continue;
    }
    if (value === undefined) throw problem(`missing a value on flag: ${name}`);
    strings.set(name, [...(strings.get(name) ?? []), value]);
  }
  return {
    string: (name) => strings.get(name)?.at(-1),
    bool: (name) => strings.get(name)?.[0] === 'true',
    strings: (name) => strings.get(name) ?? [],
  };
}
