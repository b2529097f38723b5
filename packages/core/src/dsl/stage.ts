/**
 * Stage values: immutable, cheap to branch. Each method returns a new `Stage` that points at its parent
 * plus one change (a persistent list), so `base.run(a)` and `base.copy(b)` share `base` and never alter it.
 * `toGraph()` (graph.ts) walks the chain once and resolves stage references to names.
 *
 * @example
 * const base = stage('base').from('node:20-alpine').workdir('/app');
 * const deps = base.as('deps').copy(['package.json', 'package-lock.json'], './').run('npm ci');
 * const app = stage('app').from(deps).copy('.', '.').user('node').cmd(['node', 'server.js']);
 */
import type { SourceLocation } from '../errors.js';
import { normalizeScript } from '../ir/script.js';
import type {
  ArgDecl,
  BaseRef,
  Command,
  CopyInstruction,
  HealthcheckSpec,
  Instruction,
  KeyValue,
  OnbuildInstruction,
  RunInstruction,
} from '../ir/types.js';
import { callSite } from './call-site.js';
import { isMountValue, type MountDraft, type MountValue, type SourceValue } from './mounts.js';
import { type ImageValue, isShellForm, type ShellForm, toCommand } from './values.js';

export const STAGE_BRAND = Symbol.for('wharf.stage');

/** A COPY/RUN --mount source before it is resolved to a name: a stage, an image or a context value. */
export type DraftFrom = SourceValue | string;

/** An IR instruction whose stage references are still values. */
export type DraftInstruction =
  | Exclude<Instruction, CopyInstruction | RunInstruction | OnbuildInstruction>
  | (Omit<CopyInstruction, 'from'> & { readonly from?: DraftFrom })
  | (Omit<RunInstruction, 'mounts'> & { readonly mounts?: readonly MountDraft[] })
  | (Omit<OnbuildInstruction, 'instruction'> & { readonly instruction: DraftInstruction });

/** The first link of a chain: the stage name (if any) and its base. */
export interface StageRoot {
  readonly name: string | undefined;
  readonly base: Stage | { readonly kind: 'image'; readonly ref: string } | { readonly kind: 'scratch' };
  readonly platform: string | undefined;
  readonly source: SourceLocation | undefined;
}

type Link =
  | { readonly kind: 'root'; readonly root: StageRoot }
  | { readonly kind: 'instruction'; readonly instruction: DraftInstruction }
  | { readonly kind: 'rename'; readonly name: string };

export interface FromOptions {
  /** `FROM --platform=…`, e.g. `'linux/arm64'` or `'$BUILDPLATFORM'`. */
  readonly platform?: string;
}

export interface RunOptions {
  /** `--mount` values from `cache()`, `bind()`, `secret()`, `ssh()`, `tmpfs()`. */
  readonly mounts?: readonly MountValue[];
  readonly network?: 'default' | 'none' | 'host';
  readonly security?: 'sandbox' | 'insecure';
  /**
   * Run a multi-line string as the script it is (dedented), without joining its lines with `&&`: the
   * shell carries on after a failing line unless the script says `set -e`. A Dockerfile heredoc.
   */
  readonly asScript?: boolean;
}

interface FileCopyOptions {
  /** `user`, `user:group`, `uid` or `uid:gid`. */
  readonly chown?: string | number;
  /** Octal mode, e.g. `'755'` or `0o755`. */
  readonly chmod?: string | number;
  readonly link?: boolean;
  readonly exclude?: readonly string[];
}

export interface CopyOptions extends FileCopyOptions {
  readonly parents?: boolean;
}

export interface AddOptions extends FileCopyOptions {
  /** `sha256:…` checksum of a URL source. */
  readonly checksum?: string;
  /** Keep `.git` of a git source. */
  readonly keepGitDir?: boolean;
}

export interface HealthcheckOptions {
  /** Go duration (`'30s'`, `'1m30s'`) or seconds. */
  readonly interval?: string | number;
  readonly timeout?: string | number;
  readonly startPeriod?: string | number;
  readonly startInterval?: string | number;
  readonly retries?: number;
}

export type CommandInput = readonly string[] | ShellForm;

export class Stage {
  readonly [STAGE_BRAND] = true as const;
  readonly #parent: Stage | undefined;
  readonly #link: Link;

  /** @internal use `stage()`. */
  constructor(parent: Stage | undefined, link: Link) {
    this.#parent = parent;
    this.#link = link;
  }

  /** The stage name: the last `.as()` or the `stage(name)` it started with; `undefined` if anonymous. */
  get name(): string | undefined {
    for (let node: Stage | undefined = this; node; node = node.#parent) {
      const link = node.#link;
      if (link.kind === 'rename') return link.name;
      if (link.kind === 'root') return link.root.name;
    }
    return undefined;
  }

  /** @internal The root and the instructions, oldest first (used by `toGraph`). */
  unwind(): { root: StageRoot; instructions: DraftInstruction[] } {
    const instructions: DraftInstruction[] = [];
    let node: Stage | undefined = this;
    for (; node; node = node.#parent) {
      const link: Link = node.#link;
      if (link.kind === 'root') return { root: link.root, instructions: instructions.reverse() };
      if (link.kind === 'instruction') instructions.push(link.instruction);
    }
    throw new Error('unreachable: a stage chain always starts with a root');
  }

  #with(instruction: DraftInstruction): Stage {
    return new Stage(this, { kind: 'instruction', instruction });
  }

  /** Names this stage (`FROM … AS name`); the instructions stay the same. */
  as(name: string): Stage {
    return new Stage(this, { kind: 'rename', name });
  }

  /**
   * `RUN`. A string runs in the shell; an array runs in exec form. A multi-line string is dedented; when
   * each line is a complete simple command the lines are joined with `&&` (the step stops at the first
   * failing line), otherwise the script is kept as written (a heredoc in the Dockerfile).
   */
  run(command: string | readonly string[], options: RunOptions = {}): Stage {
    const source = callSite();
    const cmd: Command =
      typeof command === 'string'
        ? { form: 'shell', script: normalizeScript(command, { join: !options.asScript }) }
        : { form: 'exec', argv: [...command] };
    const mounts = options.mounts?.map((m) => {
      if (!isMountValue(m))
        throw new TypeError('run(): mounts must be values from cache(), bind(), secret()…');
      return m.draft;
    });
    return this.#with({
      kind: 'run',
      command: cmd,
      ...(mounts?.length ? { mounts } : {}),
      ...(options.network ? { network: options.network } : {}),
      ...(options.security ? { security: options.security } : {}),
      ...(source ? { source } : {}),
    });
  }

  /**
   * `COPY`. From the build context: `copy(src, dest)`. From a stage, an image or a named context:
   * `copy(from, src, dest)`.
   * @example
   * .copy(['package.json', 'package-lock.json'], './')
   * .copy(build, '/app/dist', './dist', { chown: 'node:node' })
   */
  copy(src: string | readonly string[], dest: string, options?: CopyOptions): Stage;
  copy(
    from: Stage | ImageValue | SourceValue,
    src: string | readonly string[],
    dest: string,
    options?: CopyOptions,
  ): Stage;
  copy(...args: unknown[]): Stage {
    const source = callSite();
    const hasFrom = typeof args[0] === 'object' && args[0] !== null && !Array.isArray(args[0]);
    const [from, src, dest, options = {}] = (hasFrom ? args : [undefined, ...args]) as [
      DraftFrom | undefined,
      string | readonly string[],
      string,
      CopyOptions | undefined,
    ];
    return this.#with({
      kind: 'copy',
      ...fileCopyFields(src, dest, options),
      ...(from === undefined ? {} : { from }),
      ...(options.parents ? { parents: true } : {}),
      ...(source ? { source } : {}),
    });
  }

  /** `ADD`: local files and archives (extracted), URLs (`checksum`), git repositories (`keepGitDir`). */
  add(src: string | readonly string[], dest: string, options: AddOptions = {}): Stage {
    const source = callSite();
    return this.#with({
      kind: 'add',
      ...fileCopyFields(src, dest, options),
      ...(options.checksum ? { checksum: options.checksum } : {}),
      ...(options.keepGitDir ? { keepGitDir: true } : {}),
      ...(source ? { source } : {}),
    });
  }

  /** `WORKDIR`: relative paths resolve against the previous WORKDIR; the directory is created. */
  workdir(path: string): Stage {
    return this.#with(located({ kind: 'workdir', path }));
  }

  /** `ENV` with one or more variables; values may reference `$VAR`s, `\$` is a literal dollar. */
  env(vars: Readonly<Record<string, string | number>>): Stage {
    return this.#with(located({ kind: 'env', vars: keyValues(vars) }));
  }

  /**
   * `ARG` inside the stage: `arg('VERSION')`, `arg('VERSION', '1.0')`, or `arg({ A: '1', B: undefined })`.
   * Re-declare a global ARG here to use it in the stage.
   */
  arg(name: string, defaultValue?: string): Stage;
  arg(args: Readonly<Record<string, string | undefined>>): Stage;
  arg(nameOrArgs: string | Readonly<Record<string, string | undefined>>, defaultValue?: string): Stage {
    const args = typeof nameOrArgs === 'string' ? { [nameOrArgs]: defaultValue } : nameOrArgs;
    return this.#with(located({ kind: 'arg', args: argDecls(args) }));
  }

  /** `LABEL`s, e.g. `{ 'org.opencontainers.image.source': 'https://…' }`. */
  label(labels: Readonly<Record<string, string>>): Stage {
    return this.#with(located({ kind: 'label', labels: keyValues(labels) }));
  }

  /** `EXPOSE 3000`, `expose(53, '53/udp')`, `expose('8000-8010')`. */
  expose(...ports: readonly (number | string)[]): Stage {
    return this.#with(located({ kind: 'expose', ports: ports.map(String) }));
  }

  /** `VOLUME` mount points. */
  volume(...paths: readonly string[]): Stage {
    return this.#with(located({ kind: 'volume', paths: [...paths] }));
  }

  /** `USER name`, `user(1000)`, `user('node', 'node')` → `node:node`. */
  user(user: string | number, group?: string | number): Stage {
    const value = group === undefined ? String(user) : `${user}:${group}`;
    return this.#with(located({ kind: 'user', user: value }));
  }

  /** `CMD` in exec form (`['node', 'server.js']`); `sh('…')` for shell form. */
  cmd(command: CommandInput): Stage {
    return this.#with(located({ kind: 'cmd', command: commandOf('cmd', command) }));
  }

  /** `ENTRYPOINT` in exec form; `sh('…')` for shell form. It clears an inherited CMD. */
  entrypoint(command: CommandInput): Stage {
    return this.#with(located({ kind: 'entrypoint', command: commandOf('entrypoint', command) }));
  }

  /**
   * `HEALTHCHECK`: an exec-form test (or `sh('…')`) with timings, or `'none'` to disable an inherited one.
   * @example .healthcheck(['wget', '-qO-', 'http://localhost:3000/health'], { interval: '30s', retries: 3 })
   */
  healthcheck(test: CommandInput | 'none', options: HealthcheckOptions = {}): Stage {
    const check: HealthcheckSpec =
      test === 'none'
        ? { test: 'none' }
        : {
            test: 'cmd',
            command: commandOf('healthcheck', test),
            ...durations(options),
            ...(options.retries === undefined ? {} : { retries: options.retries }),
          };
    return this.#with(located({ kind: 'healthcheck', check }));
  }

  /** `STOPSIGNAL SIGTERM` (or a number). */
  stopsignal(signal: string | number): Stage {
    return this.#with(located({ kind: 'stopsignal', signal: String(signal) }));
  }

  /** `SHELL ["/bin/bash", "-o", "pipefail", "-c"]`: the shell for later shell-form commands. */
  shell(argv: readonly string[]): Stage {
    return this.#with(located({ kind: 'shell', argv: [...argv] }));
  }

  /**
   * `ONBUILD`: instructions recorded for images built FROM this one.
   * @example .onbuild((s) => s.copy('.', '/app').run('npm ci'))
   */
  onbuild(record: (trigger: Stage) => Stage): Stage {
    const source = callSite();
    const recorded = record(stage().from('scratch')).unwind().instructions;
    let next: Stage = this;
    for (const instruction of recorded) {
      if (instruction.kind === 'onbuild') throw new TypeError('onbuild(): ONBUILD cannot be nested');
      next = next.#with({ kind: 'onbuild', instruction, ...(source ? { source } : {}) });
    }
    return next;
  }
}

/** What `stage()` returns: a stage without a base yet; `.from()` gives it one. */
export interface StageStart {
  /**
   * `FROM`: an image reference (`'node:20-alpine'`, `'alpine@sha256:…'`), `'scratch'`, an `image()` value,
   * or another stage value.
   */
  from(base: string | Stage | ImageValue, options?: FromOptions): Stage;
}

/**
 * Starts a stage. Name it to refer to it in the Dockerfile (`AS name`) and in progress output;
 * anonymous stages get stable generated names.
 * @example stage('build').from('node:20-alpine').workdir('/app')
 */
export function stage(name?: string): StageStart {
  return {
    from(base, options = {}) {
      const source = callSite();
      const root: StageRoot = {
        name,
        base: baseOf(base),
        platform: options.platform,
        source,
      };
      return new Stage(undefined, { kind: 'root', root });
    },
  };
}

export function isStage(value: unknown): value is Stage {
  return typeof value === 'object' && value !== null && STAGE_BRAND in value;
}

function baseOf(base: string | Stage | ImageValue): StageRoot['base'] {
  if (isStage(base)) return base;
  const ref = typeof base === 'string' ? base : base.ref;
  if (typeof ref !== 'string')
    throw new TypeError('from(): expected an image reference, "scratch" or a stage value');
  return ref === 'scratch' ? { kind: 'scratch' } : { kind: 'image', ref };
}

function located<T extends DraftInstruction>(instruction: T): T {
  const source = callSite();
  return source ? { ...instruction, source } : instruction;
}

function fileCopyFields(src: string | readonly string[], dest: string, options: FileCopyOptions) {
  return {
    sources: typeof src === 'string' ? [src] : [...src],
    dest,
    ...(options.chown === undefined ? {} : { chown: String(options.chown) }),
    ...(options.chmod === undefined ? {} : { chmod: chmodText(options.chmod) }),
    ...(options.link ? { link: true } : {}),
    ...(options.exclude?.length ? { exclude: [...options.exclude] } : {}),
  };
}

/** A number is taken as the mode itself (`0o755`), printed in octal. */
function chmodText(mode: string | number): string {
  return typeof mode === 'number' ? mode.toString(8).padStart(3, '0') : mode;
}

function keyValues(record: Readonly<Record<string, string | number>>): KeyValue[] {
  return Object.entries(record).map(([key, value]) => ({ key, value: String(value) }));
}

function argDecls(record: Readonly<Record<string, string | undefined>>): ArgDecl[] {
  return Object.entries(record).map(([name, value]) =>
    value === undefined ? { name } : { name, default: value },
  );
}

function commandOf(method: string, command: CommandInput): Command {
  if (typeof command === 'string') {
    throw new TypeError(
      `${method}(): pass an exec-form array like ['node', 'server.js'], or sh('${command}') for shell form`,
    );
  }
  if (!isShellForm(command) && !Array.isArray(command)) {
    throw new TypeError(`${method}(): expected an array of strings or sh('…')`);
  }
  return toCommand(command);
}

function durations(options: HealthcheckOptions) {
  const out: { interval?: string; timeout?: string; startPeriod?: string; startInterval?: string } = {};
  for (const key of ['interval', 'timeout', 'startPeriod', 'startInterval'] as const) {
    const value = options[key];
    if (value !== undefined) out[key] = typeof value === 'number' ? `${value}s` : value;
  }
  return out;
}

export type { BaseRef };
