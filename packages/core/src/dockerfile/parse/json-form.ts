import { toWellFormed, trimLeftSpace } from './go-text.js';
import { parseFailure } from './parse-error.js';

export const NOT_STRING_ARRAY_MESSAGE =
  'when using JSON array syntax, arrays must be comprised of strings only';

/**
 * The exec (JSON) form of an instruction's arguments: the strings of a JSON array, or undefined
 * when `rest` is not a JSON array at all, in which case the caller falls back to the shell form.
 * A well-formed JSON array holding anything but strings is an error, as in BuildKit.
 *
 * BuildKit reads the array with Go's `json.Decoder`, which decodes the first value and ignores what
 * follows it: `ENTRYPOINT ["app"] # note` is the exec form `["app"]` (BuildKit 20.10 and current).
 */
export function parseJsonArray(rest: string): string[] | undefined {
  const text = trimLeftSpace(rest);
  if (!text.startsWith('[')) return undefined;
  const end = firstValueEnd(text);
  if (end === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.slice(0, end));
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed)) return undefined;
  // Go's decoder rejects numbers that overflow a float64 (JSON.parse gives Infinity): not JSON.
  if (parsed.some((v) => typeof v === 'number' && !Number.isFinite(v))) return undefined;
  if (!parsed.every((v): v is string => typeof v === 'string')) {
    throw parseFailure(NOT_STRING_ARRAY_MESSAGE, 'quote every element: ["executable", "arg"]');
  }
  return parsed.map(toWellFormed);
}

/** Where the JSON array starting at `text[0]` ends (after its closing `]`), or undefined if it never does. */
function firstValueEnd(text: string): number | undefined {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return undefined;
}
