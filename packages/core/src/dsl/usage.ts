/**
 * DSL misuse as errors: one line naming the method, at the build.ts line that called it, with the fix —
 * and options checked by name, so a misspelt option is an error with a "did you mean" instead of ignored.
 */
import { type SourceLocation, unknownNameHint, WharfError } from '../errors.js';
import { callSite } from './call-site.js';

/** Throws `DSL_USAGE`: `<method> <message>`, located at `at` (default: the caller's build.ts line). */
export function usage(
  method: string,
  message: string,
  hint: string | undefined,
  at: SourceLocation | undefined = callSite(),
): never {
  throw new WharfError('DSL_USAGE', `${method} ${message}`, { hint, location: at });
}

/** A value as an error message shows it: strings quoted, else its kind. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return value === '' ? 'an empty string' : JSON.stringify(value);
  if (value === null || value === undefined) return String(value);
  return Array.isArray(value) ? 'an array' : typeof value;
}

/**
 * Options must be a plain object with known keys: a misspelt option is an error naming the closest one.
 * `known` is typed against the options type, so adding an option without listing it does not compile.
 */
export function checkOptions<T extends object>(
  method: string,
  options: T | undefined,
  known: readonly (keyof T & string)[],
  at: SourceLocation | undefined = callSite(),
): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null || Array.isArray(options) || isBranded(options))
    usage(method, `expects an options object as its last argument, got ${describe(options)}`, undefined, at);
  for (const key of Object.keys(options)) {
    if (!(known as readonly string[]).includes(key))
      usage(method, `has no option "${key}"`, unknownNameHint(key, known), at);
  }
}

/** DSL values (stages, mounts, images …) carry `Symbol.for('wharf.*')` brands: never an options object. */
function isBranded(value: object): boolean {
  return Object.getOwnPropertySymbols(value).some((s) => s.description?.startsWith('wharf.'));
}

/**
 * The option names of an options type, from a record the compiler checks is complete: an option added to
 * the type and not here does not compile.
 */
export function optionNames<T extends object>(names: Record<keyof T & string, true>): (keyof T & string)[] {
  return Object.keys(names) as (keyof T & string)[];
}
