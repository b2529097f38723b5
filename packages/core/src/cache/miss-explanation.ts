/**
 * Why a step missed the cache: the inputs of its last build at the same position (`StepCache.remember`)
 * compared with this build's, as one line (`src/app.ts content`, `build arg VERSION`, `the base image`, …).
 */
import type { StepInputs } from './step-cache.js';

/** One line naming what changed between two builds of the same step. */
export function explainDifference(before: StepInputs, after: StepInputs): string {
  const reasons: string[] = [];
  if (before.instruction !== after.instruction) reasons.push('the instruction changed');
  if (before.parent !== after.parent)
    reasons.push(after.parentIsBase ? 'the base image changed' : 'an earlier step changed');
  if (before.config !== after.config) reasons.push('ENV, USER, WORKDIR or SHELL before this step changed');
  const args = diffArgs(before.args, after.args);
  if (args.length) reasons.push(args.map((a) => `build arg ${a}`).join(', '));
  const files = diffFiles(before.files, after.files);
  if (files.length) {
    const shown = files.slice(0, 3).join(', ');
    reasons.push(files.length > 3 ? `${shown} and ${files.length - 3} more files` : shown);
  }
  if (JSON.stringify(before.secrets ?? []) !== JSON.stringify(after.secrets ?? []))
    reasons.push('the secrets it mounts');
  if (before.epoch !== after.epoch) reasons.push('SOURCE_DATE_EPOCH');
  return reasons.length
    ? reasons.join('; ')
    : 'no record of an identical step (the cache was pruned or is new)';
}

function diffArgs(before: readonly string[], after: readonly string[]): string[] {
  const parse = (list: readonly string[]) =>
    new Map(list.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
  const a = parse(before);
  const b = parse(after);
  const names = [...new Set([...a.keys(), ...b.keys()])].sort();
  return names.filter((n) => a.get(n) !== b.get(n));
}

function diffFiles(
  before: Readonly<Record<string, string>>,
  after: Readonly<Record<string, string>>,
): string[] {
  const out: string[] = [];
  for (const [path, digest] of Object.entries(after)) {
    // A stage or image read with --from is named by its digest: say which one changed.
    if (path.startsWith('--from=')) {
      if (before[path] !== digest) out.push(`${path.slice(7)} changed`);
      continue;
    }
    if (!(path in before)) out.push(`${path} (new)`);
    else if (before[path] !== digest) out.push(`${path} content`);
  }
  for (const path of Object.keys(before)) {
    if (!(path in after) && !path.startsWith('--from=')) out.push(`${path} (removed)`);
  }
  return out.sort();
}
