/**
 * Checks a BuildGraph before any back end sees it. Each problem names the stage and the instruction
 * (`stage "app", EXPOSE (instruction 4)`) and carries the instruction's source location when known.
 * Words that contain `$` are checked after expansion by the back end, not here.
 */
import { type SourceLocation, WharfError } from '../errors.js';
import { parseReference } from '../oci/reference.js';
import { dependencyOrder } from './graph.js';
import type { BuildGraph, Command, HealthcheckSpec, Instruction, Mount, Stage } from './types.js';

export interface Problem {
  readonly severity: 'error' | 'warning';
  readonly code: string;
  readonly message: string;
  readonly hint?: string;
  readonly location?: SourceLocation;
}

/** All problems in the graph, errors and warnings. */
export function validateGraph(graph: BuildGraph): Problem[] {
  const problems: Problem[] = [];
  const report = (p: Problem) => problems.push(p);
  checkStageNames(graph, report);
  checkReferences(graph, report);
  checkImageReferences(graph, report);
  for (const arg of graph.args) checkArgName(arg.name, 'global ARG', report, undefined);
  // A stage inherits its base stage's WORKDIR (stages come in dependency order).
  const setsWorkdir = new Map<string, boolean>();
  for (const stage of graph.stages) {
    let hasWorkdir = stage.base.kind === 'stage' && setsWorkdir.get(stage.base.stage) === true;
    stage.instructions.forEach((instruction, index) => {
      const where = `stage "${stage.name}", ${instruction.kind.toUpperCase()} (instruction ${index + 1})`;
      const at = (code: string, message: string, hint?: string, severity: Problem['severity'] = 'error') =>
        report({
          severity,
          code,
          message: `${where}: ${message}`,
          ...(hint ? { hint } : {}),
          ...(instruction.source ? { location: instruction.source } : {}),
        });
      checkInstruction(instruction, at, { hasWorkdir, stage });
      if (instruction.kind === 'workdir') hasWorkdir = true;
    });
    setsWorkdir.set(stage.name, hasWorkdir);
  }
  return problems;
}

/** Throws the first error (mentioning how many more there are); returns the warnings. */
export function assertValidGraph(graph: BuildGraph): Problem[] {
  const problems = validateGraph(graph);
  const errors = problems.filter((p) => p.severity === 'error');
  const first = errors[0];
  if (first) {
    const more =
      errors.length > 1 ? ` (and ${errors.length - 1} more problem${errors.length > 2 ? 's' : ''})` : '';
    throw new WharfError(first.code, `${first.message}${more}`, {
      hint: first.hint,
      location: first.location,
    });
  }
  return problems.filter((p) => p.severity === 'warning');
}

type Report = (problem: Problem) => void;
type At = (code: string, message: string, hint?: string, severity?: Problem['severity']) => void;

const stageNamePattern = /^[a-z][a-z0-9._-]*$/;

function checkStageNames(graph: BuildGraph, report: Report) {
  const seen = new Set<string>();
  if (graph.stages.length === 0)
    report({ severity: 'error', code: 'IR_NO_STAGES', message: 'the build has no stages' });
  for (const stage of graph.stages) {
    const location = stage.source ? { location: stage.source } : {};
    if (seen.has(stage.name)) {
      report({
        severity: 'error',
        code: 'IR_DUPLICATE_STAGE',
        message: `two stages are named "${stage.name}"`,
        hint: 'stage names must be unique',
        ...location,
      });
    }
    seen.add(stage.name);
    if (!stageNamePattern.test(stage.name)) {
      report({
        severity: 'error',
        code: 'IR_INVALID_STAGE_NAME',
        message: `invalid stage name "${stage.name}"`,
        hint: 'use lowercase letters, digits, ".", "_" and "-", starting with a letter',
        ...location,
      });
    }
  }
  if (graph.target !== undefined && !seen.has(graph.target)) {
    report({ severity: 'error', code: 'IR_UNKNOWN_TARGET', message: `no stage named "${graph.target}"` });
  }
}

function checkReferences(graph: BuildGraph, report: Report) {
  try {
    dependencyOrder(graph);
  } catch (error) {
    if (!(error instanceof WharfError)) throw error;
    report({
      severity: 'error',
      code: error.code,
      message: error.message,
      hint: error.hint ?? '',
      ...loc(error),
    });
  }
  for (const stage of graph.stages) {
    const contexts = stage.instructions.flatMap((i) => {
      if (i.kind === 'copy' && i.from?.kind === 'context') return [i.from.name];
      if (i.kind === 'run')
        return (i.mounts ?? []).flatMap((m) =>
          'from' in m && m.from?.kind === 'context' ? [m.from.name] : [],
        );
      return [];
    });
    for (const name of contexts) {
      if (!(name in graph.namedContexts)) {
        report({
          severity: 'error',
          code: 'IR_UNKNOWN_CONTEXT',
          message: `stage "${stage.name}" uses unknown named context "${name}"`,
          hint: `declare it in namedContexts (buildx: --build-context ${name}=DIR)`,
        });
      }
    }
  }
}

/**
 * Image names written out (no `$`): BuildKit parses each before it builds anything and refuses the
 * build ("failed to parse stage name …: invalid reference format") — `FROM Busybox`, a template's
 * `FROM debian:%%SUITE%%-slim`, `COPY --from=Tool …`. Words with `$` are checked once expanded.
 */
function checkImageReferences(graph: BuildGraph, report: Report) {
  for (const stage of graph.stages) {
    const refs: { ref: string; what: string; location?: SourceLocation }[] = [];
    if (stage.base.kind === 'image') refs.push({ ref: stage.base.ref, what: 'FROM', location: stage.source });
    for (const i of stage.instructions) {
      const froms =
        i.kind === 'copy' || i.kind === 'add'
          ? [i.kind === 'copy' ? i.from : undefined]
          : i.kind === 'run'
            ? (i.mounts ?? []).map((m) => ('from' in m ? m.from : undefined))
            : [];
      for (const from of froms) {
        if (from?.kind === 'image')
          refs.push({ ref: from.ref, what: `${i.kind.toUpperCase()} from`, location: i.source });
      }
    }
    for (const { ref, what, location } of refs) {
      // `oci-layout://DIR[:TAG]` is a local layout, not a registry name (engine/sources.ts reads it)
      if (ref.includes('$') || ref.startsWith('oci-layout://')) continue;
      try {
        parseReference(ref);
      } catch (error) {
        if (!(error instanceof WharfError)) throw error;
        report({
          severity: 'error',
          code: 'IR_INVALID_IMAGE_REF',
          message: `stage "${stage.name}": ${what} names no image: ${error.message}`,
          hint: error.hint ?? 'write "<repository>[:tag][@digest]" in lowercase, e.g. "node:20"',
          ...(location ? { location } : {}),
        });
      }
    }
  }
}

function loc(error: WharfError) {
  return error.location ? { location: error.location } : {};
}

interface StageState {
  readonly hasWorkdir: boolean;
  readonly stage: Stage;
}

function checkInstruction(instruction: Instruction, at: At, state: StageState): void {
  switch (instruction.kind) {
    case 'run':
      checkCommand(instruction.command, at, 'RUN needs a command', !instruction.heredocs?.length);
      for (const mount of instruction.mounts ?? []) checkMount(mount, at);
      return;
    case 'copy':
    case 'add': {
      const count = instruction.sources.length + (instruction.heredocs?.length ?? 0);
      if (count === 0) at('IR_MISSING_SOURCE', 'needs at least one source', 'copy(src, dest)');
      for (const s of instruction.sources) if (s.trim() === '') at('IR_EMPTY_PATH', 'a source path is empty');
      if (instruction.dest.trim() === '')
        at('IR_EMPTY_PATH', 'the destination is empty', 'use "." for WORKDIR');
      // Several sources into a destination that is not written as a directory are not an error:
      // BuildKit copies them one after another (into it when it is a directory in the image, else
      // each replaces the one before) — `COPY a b /usr/local/bin` is common.
      if (!isAbsolute(instruction.dest) && !state.hasWorkdir && !instruction.dest.includes('$')) {
        at(
          'IR_RELATIVE_DEST',
          `relative destination "${instruction.dest}" resolves against the WORKDIR inherited from the base (/ unless the base sets one)`,
          fromDsl(instruction.source)
            ? 'set .workdir(…) earlier in the stage or use an absolute destination'
            : 'add a WORKDIR earlier in the stage or use an absolute destination',
          'warning',
        );
      }
      if (instruction.chmod !== undefined) checkChmod(instruction.chmod, at);
      if (instruction.chown !== undefined) checkChown(instruction.chown, at);
      if (instruction.kind === 'add' && instruction.checksum !== undefined)
        checkChecksum(instruction.checksum, at);
      return;
    }
    case 'workdir':
      if (instruction.path.trim() === '') at('IR_EMPTY_PATH', 'WORKDIR needs a path');
      return;
    case 'env':
      if (instruction.vars.length === 0) at('IR_EMPTY', 'ENV needs at least one variable');
      for (const { key } of instruction.vars) checkKey(key, 'variable', at);
      return;
    case 'label':
      if (instruction.labels.length === 0) at('IR_EMPTY', 'LABEL needs at least one label');
      for (const { key } of instruction.labels) checkKey(key, 'label', at);
      return;
    case 'arg':
      if (instruction.args.length === 0) at('IR_EMPTY', 'ARG needs a name');
      for (const { name } of instruction.args) {
        checkArgName(name, 'ARG', (p) => at(p.code, p.message, p.hint), undefined);
      }
      return;
    case 'expose':
      if (instruction.ports.length === 0) at('IR_EMPTY', 'EXPOSE needs a port');
      for (const port of instruction.ports) checkPort(port, at);
      return;
    case 'volume':
      if (instruction.paths.length === 0) at('IR_EMPTY', 'VOLUME needs a path');
      for (const p of instruction.paths) if (p.trim() === '') at('IR_EMPTY_PATH', 'a VOLUME path is empty');
      return;
    case 'user':
      if (instruction.user.trim() === '' || /\s/.test(instruction.user)) {
        at(
          'IR_INVALID_USER',
          `invalid user "${instruction.user}"`,
          'user("name"), user(1000) or user("uid", "gid")',
        );
      }
      return;
    case 'cmd':
    case 'entrypoint':
      if (instruction.command.form === 'shell')
        checkCommand(instruction.command, at, `${instruction.kind.toUpperCase()} needs a command`, true);
      return;
    case 'healthcheck':
      checkHealthcheck(instruction.check, at);
      return;
    case 'stopsignal':
      checkSignal(instruction.signal, at);
      return;
    case 'shell':
      if (instruction.argv.length === 0 || instruction.argv[0] === '') {
        at('IR_EMPTY', 'SHELL needs the shell and its arguments', 'shell(["/bin/bash", "-c"])');
      }
      return;
    case 'maintainer':
      return;
    case 'onbuild':
      checkInstruction(instruction.instruction, at, state);
      return;
    default:
      assertNever(instruction);
  }
}

function assertNever(value: never): never {
  throw new Error(`unhandled instruction ${JSON.stringify(value)}`);
}

/** Whether a location is in a build definition (DSL hints apply) rather than a Dockerfile. */
const fromDsl = (source: SourceLocation | undefined) =>
  source !== undefined && /\.[cm]?[jt]s$/.test(source.file);

const isAbsolute = (path: string) => path.startsWith('/') || /^[A-Za-z]:[\\/]/.test(path);
const hasVariable = (word: string) => word.includes('$');

function checkCommand(command: Command, at: At, message: string, required: boolean) {
  const empty = command.form === 'shell' ? command.script.trim() === '' : command.argv.length === 0;
  if (empty && required) at('IR_EMPTY_COMMAND', message, 'give the command to run, e.g. run("npm ci")');
}

function checkKey(key: string, what: string, at: At) {
  if (key === '' || /[\s=]/.test(key)) {
    at(
      'IR_INVALID_KEY',
      `invalid ${what} name "${key}"`,
      `${what} names are non-empty, without spaces or "="`,
    );
  }
}

function checkArgName(name: string, what: string, report: Report, location: SourceLocation | undefined) {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    report({
      severity: 'error',
      code: 'IR_INVALID_ARG',
      message: `invalid ${what} name "${name}"`,
      hint: 'use letters, digits and "_", not starting with a digit',
      ...(location ? { location } : {}),
    });
  }
}

const portPattern = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i;

/** Validates `80`, `53/udp`, `8000-8010/tcp` (Docker's EXPOSE syntax). */
export function isValidPortSpec(spec: string): boolean {
  const match = portPattern.exec(spec);
  if (!match) return false;
  const start = Number(match[1]);
  const end = match[2] === undefined ? start : Number(match[2]);
  return start >= 1 && end <= 65535 && start <= end;
}

function checkPort(port: string, at: At) {
  if (hasVariable(port)) return;
  if (!isValidPortSpec(port)) {
    at(
      'IR_INVALID_PORT',
      `invalid port "${port}"`,
      'a port is 1-65535, optionally a range and /tcp, /udp or /sctp: 3000, "53/udp", "8000-8010"',
    );
  }
}

const signals = new Set(
  'ABRT ALRM BUS CHLD CLD CONT FPE HUP ILL INT IO IOT KILL PIPE POLL PROF PWR QUIT SEGV STKFLT STOP SYS TERM TRAP TSTP TTIN TTOU URG USR1 USR2 VTALRM WINCH XCPU XFSZ'.split(
    ' ',
  ),
);

function checkSignal(signal: string, at: At) {
  if (hasVariable(signal)) return;
  const name = signal.toUpperCase().replace(/^SIG/, '');
  const rt = /^RTMIN(\+\d+)?$|^RTMAX(-\d+)?$/.test(name);
  const numeric = /^\d+$/.test(signal) && Number(signal) >= 1 && Number(signal) <= 64;
  if (!signals.has(name) && !rt && !numeric) {
    at(
      'IR_INVALID_SIGNAL',
      `invalid stop signal "${signal}"`,
      'use a signal name like SIGTERM or SIGINT, or a number 1-64',
    );
  }
}

const durationPattern = /^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$/;

function checkDuration(value: string, name: string, at: At) {
  if (!durationPattern.test(value)) {
    at('IR_INVALID_DURATION', `invalid ${name} "${value}"`, 'use a duration like "30s", "1m30s" or "500ms"');
  }
}

function checkHealthcheck(check: HealthcheckSpec, at: At) {
  if (check.test === 'none') return;
  checkCommand(check.command, at, 'HEALTHCHECK needs a command', true);
  if (check.interval !== undefined) checkDuration(check.interval, 'interval', at);
  if (check.timeout !== undefined) checkDuration(check.timeout, 'timeout', at);
  if (check.startPeriod !== undefined) checkDuration(check.startPeriod, 'start period', at);
  if (check.startInterval !== undefined) checkDuration(check.startInterval, 'start interval', at);
  if (check.retries !== undefined && (!Number.isInteger(check.retries) || check.retries < 0)) {
    at('IR_INVALID_RETRIES', `invalid retries ${check.retries}`, 'retries is a whole number ≥ 0');
  }
}

function checkChmod(chmod: string, at: At) {
  if (hasVariable(chmod)) return;
  if (!/^[0-7]{3,4}$/.test(chmod)) {
    at(
      'IR_INVALID_CHMOD',
      `invalid chmod "${chmod}"`,
      'use an octal mode like "755" or "0644" (or a number like 0o755)',
    );
  }
}

function checkChown(chown: string, at: At) {
  if (
    chown === '' ||
    /\s/.test(chown) ||
    chown.split(':').length > 2 ||
    // `:group` keeps the user (root) and sets the group, as BuildKit does; `user:` is an error.
    chown.split(':').some((p, i) => p === '' && i > 0) ||
    chown === ':'
  ) {
    at('IR_INVALID_CHOWN', `invalid chown "${chown}"`, 'use "user", "user:group", "1000" or "1000:1000"');
  }
}

function checkChecksum(checksum: string, at: At) {
  if (hasVariable(checksum)) return;
  if (!/^sha(256:[a-f0-9]{64}|384:[a-f0-9]{96}|512:[a-f0-9]{128})$/.test(checksum)) {
    at(
      'IR_INVALID_CHECKSUM',
      `invalid checksum "${checksum}"`,
      'use "sha256:" followed by 64 lowercase hex digits',
    );
  }
}

function checkMount(mount: Mount, at: At) {
  const targetOf = 'target' in mount ? mount.target : undefined;
  switch (mount.type) {
    case 'cache':
    case 'bind':
    case 'tmpfs':
      // A relative target resolves against WORKDIR when the step runs (`.` is the WORKDIR itself).
      if (!targetOf || targetOf.trim() === '')
        at('IR_INVALID_MOUNT', `a ${mount.type} mount needs a target path`);
      break;
    case 'secret':
      if (!mount.id && !mount.target && !mount.env)
        at('IR_INVALID_MOUNT', 'a secret mount needs an id or a target');
      break;
    case 'ssh':
      break;
  }
  if ('mode' in mount && mount.mode !== undefined && !/^[0-7]{3,4}$/.test(mount.mode)) {
    at('IR_INVALID_MOUNT', `invalid mount mode "${mount.mode}"`, 'use an octal mode like "0700"');
  }
  if (mount.type === 'cache' && mount.sharing && !['shared', 'private', 'locked'].includes(mount.sharing)) {
    at('IR_INVALID_MOUNT', `invalid cache sharing "${mount.sharing}"`, 'use shared, private or locked');
  }
  if (
    mount.type === 'tmpfs' &&
    mount.size !== undefined &&
    (!Number.isInteger(mount.size) || mount.size < 0)
  ) {
    at('IR_INVALID_MOUNT', `invalid tmpfs size ${mount.size}`, 'size is a whole number of bytes');
  }
}
