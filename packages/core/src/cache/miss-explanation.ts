/**
 * Why a step missed the cache: the inputs of its last build at the same position (`StepCache.remember`)
 * compared with this build's, as one line that names what changed —
 * `ENV NODE_ENV "development" → "production"`, `build arg VERSION "1.0" → "1.1"`,
 * `context file src/app.ts changed (copied to /app/src/app.ts)`, `the base image changed`, …
 *
 * Values of ARGs and ENV variables whose names look secret (`looksSecret`, the lint rule's test) are
 * never printed. Files are named by where they are: `context file …` for a path in the build context (as
 * written relative to it), `image path …` for a path inside the image (a directory a COPY creates, a
 * link, a heredoc's file). The edited files come first; a long list ends in `and K more` (never hiding
 * just one name).
 */
import { looksSecret } from '../ir/secret-names.js';
import type { StepInputs } from './step-cache.js';

/** How many changed files a line names before `and K more`. */
const SHOWN_FILES = 5;
/** Longest value shown; longer ones are cut with `…`. */
const SHOWN_VALUE = 40;

/** One line naming what changed between two builds of the same step. */
export function explainDifference(before: StepInputs, after: StepInputs): string {
  const reasons: string[] = [];
  if (before.instruction !== after.instruction) reasons.push('the instruction changed');
  if (before.parent !== after.parent)
    reasons.push(after.parentIsBase ? 'the base image changed' : 'an earlier step changed');
  if (before.config !== after.config) reasons.push(...diffConfig(before.config, after.config));
  reasons.push(...diffArgs(before.args, after.args));
  const files = diffFiles(before.files, after.files);
  if (files.length) {
    // "and 1 more" would hide a name in the space it takes to say so.
    const shown = files.length <= SHOWN_FILES + 1 ? files : files.slice(0, SHOWN_FILES);
    const rest = files.length - shown.length;
    reasons.push(rest > 0 ? `${shown.join(', ')} and ${rest} more files` : shown.join(', '));
  }
  if (JSON.stringify(before.secrets ?? []) !== JSON.stringify(after.secrets ?? []))
    reasons.push('the secrets it mounts');
  if (before.epoch !== after.epoch) reasons.push('SOURCE_DATE_EPOCH');
  return reasons.length
    ? reasons.join('; ')
    : 'no record of an identical step (the cache was pruned or is new)';
}

/** The container config fields a step runs with, by the instruction that sets them. */
const CONFIG_FIELDS: readonly (readonly [field: string, instruction: string, showValue: boolean])[] = [
  ['User', 'USER', true],
  ['WorkingDir', 'WORKDIR', true],
  ['Shell', 'SHELL', true],
  ['Entrypoint', 'ENTRYPOINT', false],
  ['Cmd', 'CMD', false],
  ['Labels', 'LABEL', false],
  ['ExposedPorts', 'EXPOSE', false],
  ['Volumes', 'VOLUME', false],
  ['Healthcheck', 'HEALTHCHECK', false],
  ['StopSignal', 'STOPSIGNAL', false],
  ['OnBuild', 'ONBUILD', false],
];

function diffConfig(beforeText: string, afterText: string): string[] {
  const parse = (text: string): Record<string, unknown> => {
    try {
      const value: unknown = JSON.parse(text);
      return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
    } catch {
      return {};
    }
  };
  const before = parse(beforeText);
  const after = parse(afterText);
  const out = diffVariables('ENV', envList(before.Env), envList(after.Env));
  const known = new Set(['Env']);
  for (const [field, instruction, showValue] of CONFIG_FIELDS) {
    known.add(field);
    const a = JSON.stringify(before[field]);
    const b = JSON.stringify(after[field]);
    if (a === b) continue;
    out.push(showValue ? `${instruction} ${shown(a)} → ${shown(b)}` : `${instruction} changed`);
  }
  const others = [...new Set([...Object.keys(before), ...Object.keys(after)])]
    .filter((k) => !known.has(k) && JSON.stringify(before[k]) !== JSON.stringify(after[k]))
    .sort();
  if (others.length) out.push(`the image config's ${others.join(', ')}`);
  // Not one field differs: the texts differ in spelling only (key order).
  return out.length ? out : ['the config this step runs with'];
}

function envList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function diffArgs(before: readonly string[], after: readonly string[]): string[] {
  return diffVariables('build arg', before, after);
}

/** `NAME=value` lists compared by name: `ENV A "1" → "2"`, `build arg B set to "x"`, `… unset`. */
function diffVariables(kind: string, before: readonly string[], after: readonly string[]): string[] {
  const parse = (list: readonly string[]) =>
    new Map(
      list.map((e) => {
        const at = e.indexOf('=');
        return at < 0 ? [e, ''] : [e.slice(0, at), e.slice(at + 1)];
      }),
    );
  const a = parse(before);
  const b = parse(after);
  const names = [...new Set([...a.keys(), ...b.keys()])].sort();
  const out: string[] = [];
  for (const name of names) {
    const old = a.get(name);
    const now = b.get(name);
    if (old === now) continue;
    if (looksSecret(name)) {
      const what = old === undefined ? 'set' : now === undefined ? 'unset' : 'changed';
      out.push(`${kind} ${name} ${what} (the value is not shown: the name looks secret)`);
    } else if (old === undefined) out.push(`${kind} ${name} set to ${shown(JSON.stringify(now))}`);
    else if (now === undefined) out.push(`${kind} ${name} unset (was ${shown(JSON.stringify(old))})`);
    else out.push(`${kind} ${name} ${shown(JSON.stringify(old))} → ${shown(JSON.stringify(now))}`);
  }
  return out;
}

function shown(json: string | undefined): string {
  if (json === undefined) return '(unset)';
  return json.length > SHOWN_VALUE ? `${json.slice(0, SHOWN_VALUE - 1)}…` : json;
}

/**
 * A recorded file input. Keys are the build-context path of a file copied from the context (relative;
 * absolute for a file of a named context outside it) with `<kind>:<mode>:<uid>:<gid>:/<image path>:<digest>`
 * as value; an image path (absolute) for what a step creates without a context file (directories,
 * links, heredoc files); `bind <target>` for a RUN bind mount; `--from=<stage or image>` for a copy from
 * another stage or image.
 */
interface FileChange {
  /** 0 content changed, 1 other changes, 2 added, 3 removed: the edited files are named first. */
  readonly rank: number;
  readonly text: string;
}

const SOURCE_VALUE = /^file:[0-7]+:\d+:\d+:(\/.*):(?:sha256:)?[0-9a-f]+$/s; // `s`: a name may hold a newline

function diffFiles(
  before: Readonly<Record<string, string>>,
  after: Readonly<Record<string, string>>,
): string[] {
  const changes: FileChange[] = [];
  for (const [key, value] of Object.entries(after)) {
    const old = before[key];
    if (old === value) continue;
    // A stage or image read with --from is named by its digest: say which one changed.
    if (key.startsWith('--from=')) {
      changes.push({ rank: 0, text: `${key.slice(7)} changed` });
      continue;
    }
    if (key.startsWith('bind ')) {
      changes.push({ rank: 0, text: `the source of the bind mount at ${key.slice(5)} changed` });
      continue;
    }
    changes.push(fileChange(key, old, value));
  }
  for (const [key, old] of Object.entries(before)) {
    if (key in after || key.startsWith('--from=')) continue;
    if (key.startsWith('bind ')) changes.push({ rank: 3, text: `no bind mount at ${key.slice(5)}` });
    else changes.push({ rank: 3, text: `${where(key, old)} removed` });
  }
  return changes
    .sort((a, b) => a.rank - b.rank || (a.text < b.text ? -1 : a.text > b.text ? 1 : 0))
    .map((c) => c.text);
}

/** `context file src/a.ts` (a file read from the build context) or `image path /app/logs`. */
function where(key: string, value: string): string {
  const hash = key.lastIndexOf('#');
  if (SOURCE_VALUE.test(value)) {
    // An archive ADD extracts: `app.tar#bin/tool` is a member of a context file.
    return hash > 0
      ? `member ${key.slice(hash + 1)} of context file ${key.slice(0, hash)}`
      : `context file ${key}`;
  }
  return `image path ${key}`;
}

function fileChange(key: string, old: string | undefined, value: string): FileChange {
  const source = SOURCE_VALUE.exec(value);
  const dest = source?.[1];
  const copied = dest === undefined ? '' : ` (copied to ${dest})`;
  if (old === undefined) return { rank: 2, text: `${where(key, value)} added${copied}` };
  const was = SOURCE_VALUE.exec(old);
  if (source && was) {
    const digest = (v: string) => v.slice(v.lastIndexOf(':') + 1);
    if (digest(old) !== digest(value)) return { rank: 0, text: `${where(key, value)} changed${copied}` };
    if (was[1] !== dest)
      return { rank: 1, text: `${where(key, value)} now copied to ${dest} (was ${was[1]})` };
    return { rank: 1, text: `${where(key, value)} mode or owner changed${copied}` };
  }
  const kind = value.slice(0, value.indexOf(':'));
  const oldKind = old.slice(0, old.indexOf(':'));
  const what =
    kind !== oldKind
      ? 'type'
      : kind === 'file'
        ? 'content, mode or owner'
        : kind === 'symlink'
          ? 'target, mode or owner'
          : 'mode or owner';
  return { rank: kind === 'file' ? 0 : 1, text: `${where(key, value)} ${what} changed` };
}
