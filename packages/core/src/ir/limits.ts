/**
 * Limits on what an untrusted definition can make wharf compute (see docs/security/parsers.md).
 * Without them a 362-byte chain of `ENV vN=$v(N-1)$v(N-1)` reached 870 MB and a 2,000-deep
 * `${a:-…}` overflowed the stack.
 */

/** The longest value a word may expand to: 1 MiB of characters. */
export const MAX_EXPANDED_LENGTH = 1024 * 1024;
/** The deepest `${…}` nesting a word may have. */
export const MAX_EXPANSION_DEPTH = 100;
/** The most a config's Env entries plus its Labels keys and values may add up to: 4 MiB of characters. */
export const MAX_CONFIG_ENV_AND_LABELS = 4 * 1024 * 1024;

/** A word or reference for an error message: at most 60 characters. */
export function shorten(text: string): string {
  return text.length <= 60 ? text : `${text.slice(0, 57)}...`;
}
