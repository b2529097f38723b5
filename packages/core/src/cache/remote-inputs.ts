/**
 * What a cache export says about where a step stands and what it read, so that a miss on another
 * machine can be explained ("remote cache … had 3f2a…: context file src/app.ts changed"): the step's
 * position without this machine's paths, and its inputs with ARG values — and the values of ENV
 * variables whose names look secret — replaced by their sha256 (enough to say that one changed).
 *
 * @example
 * const record = { key, layer, at: portablePosition(slot), inputs: portableInputs(inputs) };
 */
import { createHash } from 'node:crypto';
import { looksSecret } from '../ir/secret-names.js';
import type { StepInputs } from './step-cache.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * A step position that is the same on every machine: the engine's slot is `<context dir>\0<stages>…`;
 * the context dir is left out and the rest hashed.
 */
export function portablePosition(slot: string): string {
  const at = slot.indexOf('\0');
  return sha256(at < 0 ? slot : slot.slice(at + 1));
}

/** Files listed per step at most; a step reading more (a whole node_modules) exports no inputs. */
export const PORTABLE_FILES_LIMIT = 2000;

/**
 * `inputs` with ARG values and secret-looking ENV values as `sha256:<hex>`; undefined for a step that
 * reads more than {@link PORTABLE_FILES_LIMIT} files (its record would outweigh the rest).
 */
export function portableInputs(inputs: StepInputs): StepInputs | undefined {
  if (Object.keys(inputs.files).length > PORTABLE_FILES_LIMIT) return undefined;
  return { ...inputs, args: inputs.args.map((a) => hashed(a, true)), config: hashedEnv(inputs.config) };
}

function hashed(entry: string, always: boolean): string {
  const at = entry.indexOf('=');
  if (at < 0) return entry;
  const name = entry.slice(0, at);
  return always || looksSecret(name) ? `${name}=sha256:${sha256(entry.slice(at + 1))}` : entry;
}

function hashedEnv(config: string): string {
  try {
    const value = JSON.parse(config) as { Env?: unknown };
    if (!Array.isArray(value.Env)) return config;
    return JSON.stringify({
      ...value,
      Env: value.Env.map((e) => (typeof e === 'string' ? hashed(e, false) : e)),
    });
  } catch {
    return config;
  }
}
