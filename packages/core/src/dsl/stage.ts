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
import { normalizeScript, shebangHeredoc } from '../ir/script.js';
import type {
  ArgDecl,
  BaseRef,
  Command,
  CopyInstruction,
  HealthcheckSpec,
  Heredoc,
  Instruction,
  KeyValue,
  OnbuildInstruction,
  RunInstruction,
} from '../ir/types.js';
import { callSite } from './call-site.js';
import { isMountValue, type MountDraft, type MountValue, type SourceValue } from './mounts.js';
import { isPlatformArg, type PlatformArg, platformWord } from './platform-args.js';
import { checkOptions, describe, optionNames, usage } from './usage.js';
import { isNonRootUser, type NonRootUser } from './user.js';
import {
  type HeredocValue,
  type ImageValue,
  isHeredocValue,
  isShellForm,
  type ShellForm,
  toCommand,
} from './values.js';

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

/** Options of `from()`. */
export interface FromOptions {
  /**
   * `FROM --platform=…`: `buildPlatform` (`$BUILDPLATFORM`: a native stage, shared by every target
   * platform), another platform ARG value, or a platform string (`'linux/arm64'`).
   */
  readonly platform?: string | PlatformArg;
}

export interface RunOptions {
  /** `--mount` values from `cache()`, `bind()`, `secret()`, `ssh()`, `tmpfs()`. */
  readonly mounts?: readonly MountValue[];
  /**
   * `RUN --network`: `'none'` runs without a network; `'host'` shares the host's (needs the
   * `network.host` entitlement, `--allow network.host`). Default: a network of the step's own.
   */
  readonly network?: 'default' | 'none' | 'host';
  /** `RUN --security=insecure`: a privileged step (needs `--allow security.insecure`). Default `'sandbox'`. */
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
  /** Octal mode as a string, e.g. `'755'` or `'0644'` (a number would be ambiguous: is 755 octal?). */
  readonly chmod?: string;
  /**
   * `--link`: the files become a layer of their own, independent of the layers below, so a rebuild
   * after a base change reuses it (and BuildKit can rebase it without copying). Destinations are not
   * read through symlinks of earlier layers.
   * @example .copy(build, '/app/dist', '/srv/www', { link: true })
   */
  readonly link?: boolean;
  /**
   * `--exclude`: `.dockerignore`-style patterns of sources to leave out.
   * @example .copy('.', '/app', { exclude: ['*.test.ts', 'docs/'] })
   */
  readonly exclude?: readonly string[];
}

/** Options of `copy()`: ownership, mode, `--link`, `--exclude`, `--parents`. */
export interface CopyOptions extends FileCopyOptions {
  /**
   * `--parents`: keep each source's parent directories under `dest` (a `./` in a source marks where the
   * kept part starts), instead of copying every match flat into `dest`.
   * @example .copy(['packages/a/package.json', 'packages/b/package.json'], '/app/', { parents: true }) // → /app/packages/a/package.json, /app/packages/b/package.json
   */
  readonly parents?: boolean;
}

/** Options of `add()`: those of `copy()` (but `parents`) and, for URL and git sources, `checksum` and `keepGitDir`. */
export interface AddOptions extends FileCopyOptions {
  /** `sha256:…` checksum of a URL source. */
  readonly checksum?: string;
  /** Keep `.git` of a git source. */
  readonly keepGitDir?: boolean;
}

/** HEALTHCHECK timings: Go durations (`'30s'`, `'1m30s'`) or seconds; Docker's defaults when left out. */
export interface HealthcheckOptions {
  /** Time between checks (default 30s). */
  readonly interval?: string | number;
  /** A check running longer than this fails (default 30s). */
  readonly timeout?: string | number;
  /** Time the container has to start before failures count (default 0s). */
  readonly startPeriod?: string | number;
  /** Time between checks during the start period (default 5s; BuildKit 1.6 Dockerfile syntax and later). */
  readonly startInterval?: string | number;
  /** Consecutive failures before the container is unhealthy (default 3). */
  readonly retries?: number;
}

export type CommandInput = readonly string[] | ShellForm;

const RUN_OPTIONS = optionNames<RunOptions>({ mounts: true, network: true, security: true, asScript: true });
const COPY_OPTIONS = optionNames<CopyOptions>({
  chown: true,
  chmod: true,
  link: true,
  exclude: true,
  parents: true,
});
const ADD_OPTIONS = optionNames<AddOptions>({
  chown: true,
  chmod: true,
  link: true,
  exclude: true,
  checksum: true,
  keepGitDir: true,
});
const FROM_OPTIONS = optionNames<FromOptions>({ platform: true });
const HEALTHCHECK_OPTIONS = optionNames<HealthcheckOptions>({
  interval: true,
  timeout: true,
  startPeriod: true,
  startInterval: true,
  retries: true,
});

/** COPY/ADD sources: paths or globs, and `heredoc()` files. */
export type CopySource = string | HeredocValue | readonly (string | HeredocValue)[];

/**
 * A build stage: an immutable value that each method extends by one instruction, returning a new
 * `Stage` (the one called on is unchanged, so a base can be branched). Start one with `stage()`.
 * @example
 * const base = stage('base').from('node:20-alpine').workdir('/app');
 * const test = base.copy('.', '.').run('npm test'); // base is unchanged
 */
export class Stage {
  readonly [STAGE_BRAND] = true as const;
  readonly #parent: Stage | undefined;
  readonly #link: Link;

  /** @internal use `stage()`. */
  constructor(parent: Stage | undefined, link: Link) {
    this.#parent = parent;
    this.#link = link;
  }

  /**
   * The stage name: the last `.as()` or the `stage(name)` it started with; `undefined` if anonymous.
   * @example stage('build').from('alpine:3.20').name // 'build'
   */
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

  /**
   * Names this stage (`FROM … AS name`). An anonymous chain is renamed. On a named one, the calls made
   * since it was named become the new stage, FROM the named one: `base.run(…).as('app')` leaves `base`
   * a stage (and a `--target`) of its own.
   * @example const app = base.copy('.', '.').as('app') // FROM base AS app, then COPY
   */
  as(name: string): Stage {
    const at = callSite();
    if (typeof name !== 'string' || name === '') usage('as()', 'expects a stage name', "as('build')", at);
    if (this.name === name) return this;
    // The calls since the chain was last named become the new stage, FROM the stage named there.
    const after: DraftInstruction[] = [];
    let named: Stage = this;
    while (named.#link.kind === 'instruction' && named.#parent) {
      after.push(named.#link.instruction);
      named = named.#parent;
    }
    if (after.length === 0 || named.name === undefined) return new Stage(this, { kind: 'rename', name });
    let next = new Stage(undefined, {
      kind: 'root',
      root: { name, base: named, platform: undefined, source: at },
    });
    for (const instruction of after.reverse()) next = next.#with(instruction);
    return new Stage(next, { kind: 'rename', name }); // named here: a later as() starts after this point
  }

  /**
   * `RUN`. A string runs in the shell; an array runs in exec form. A multi-line string is dedented; when
   * each line is a complete simple command the lines are joined with `&&` (the step stops at the first
   * failing line), otherwise the script is kept as written (a heredoc in the Dockerfile).
   * @example
   * .run('npm ci', { mounts: [cache.npm()] })
   * .run(['/bin/app', '--migrate'])
   */
  run(command: string | readonly string[], options: RunOptions = {}): Stage {
    const source = callSite();
    if (typeof command !== 'string' && !isStringArray(command))
      usage(
        'run()',
        'expects a shell command string or an exec-form array of strings',
        "run('npm ci')",
        source,
      );
    checkOptions('run()', options, RUN_OPTIONS, source);
    const cmd: Command =
      typeof command === 'string'
        ? { form: 'shell', script: normalizeScript(command, { join: !options.asScript }) }
        : { form: 'exec', argv: [...command] };
    const mounts = options.mounts?.map((m) => {
      if (!isMountValue(m))
        usage(
          'run()',
          'mounts must be values from cache(), bind(), secret(), ssh() or tmpfs()',
          undefined,
          source,
        );
      return m.draft;
    });
    // A `#!` script runs as a file (the shebang picks the interpreter) on both backends, as `RUN <<EOF` does.
    const asFile = cmd.form === 'shell' ? shebangHeredoc(cmd.script) : undefined;
    return this.#with({
      kind: 'run',
      command: asFile?.command ?? cmd,
      ...(asFile ? { heredocs: asFile.heredocs } : {}),
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
  copy(src: CopySource, dest: string, options?: CopyOptions): Stage;
  copy(from: SourceValue, src: string | readonly string[], dest: string, options?: CopyOptions): Stage;
  copy(...args: unknown[]): Stage {
    const source = callSite();
    const first = args[0];
    const hasFrom =
      typeof first === 'object' && first !== null && !Array.isArray(first) && !isHeredocValue(first);
    if (!hasFrom && args.length >= 3 && typeof args[2] === 'string') {
      usage(
        'copy()',
        `got three paths ("${String(first)}", "${String(args[1])}", "${args[2]}"): a stage is passed as its value, not its name`,
        `copy(${typeof first === 'string' ? first.replace(/\W+/g, '_') : 'stage'}, '${String(args[1])}', '${args[2]}') with the stage variable, or image('${String(first)}') for an image`,
        source,
      );
    }
    const [from, src, dest, options = {}] = (hasFrom ? args : [undefined, ...args]) as [
      DraftFrom | undefined,
      CopySource,
      string,
      CopyOptions | undefined,
    ];
    checkOptions('copy()', options, COPY_OPTIONS, source);
    return this.#with({
      kind: 'copy',
      ...fileCopyFields('copy()', src, dest, options, source),
      ...(from === undefined ? {} : { from }),
      ...(options.parents ? { parents: true } : {}),
      ...(source ? { source } : {}),
    });
  }

  /**
   * `ADD`: local files and archives (extracted), URLs (`checksum`), git repositories (`keepGitDir`).
   * Prefer `copy()` for local files that are not archives.
   * @example .add('https://example.com/tool.tgz', '/opt/', { checksum: 'sha256:…' })
   */
  add(src: CopySource, dest: string, options: AddOptions = {}): Stage {
    const source = callSite();
    checkOptions('add()', options, ADD_OPTIONS, source);
    return this.#with({
      kind: 'add',
      ...fileCopyFields('add()', src, dest, options, source),
      ...(options.checksum ? { checksum: options.checksum } : {}),
      ...(options.keepGitDir ? { keepGitDir: true } : {}),
      ...(source ? { source } : {}),
    });
  }

  /**
   * `WORKDIR`: relative paths resolve against the previous WORKDIR; the directory is created.
   * @example .workdir('/app')
   */
  workdir(path: string): Stage {
    return this.#with(located({ kind: 'workdir', path }));
  }

  /**
   * `ENV` with one or more variables; values may reference `$VAR`s, `\$` is a literal dollar.
   * @example .env({ NODE_ENV: 'production', PATH: '/app/bin:$PATH' })
   */
  env(vars: Readonly<Record<string, string | number>>): Stage {
    return this.#with(located({ kind: 'env', vars: keyValues(vars) }));
  }

  /**
   * `ARG` inside the stage: `arg('VERSION')`, `arg('VERSION', '1.0')`, or `arg({ A: '1', B: undefined })`.
   * Re-declare a global ARG here to use it in the stage.
   * @example .arg('VERSION', '1.0').run('echo building $VERSION')
   */
  arg(name: string, defaultValue?: string): Stage;
  arg(args: Readonly<Record<string, string | undefined>>): Stage;
  /**
   * Declares automatic platform ARGs in the stage (`ARG TARGETOS TARGETARCH`), which its steps see
   * only once declared, as in BuildKit.
   * @example .arg(platformArgs.TARGETARCH).run(`echo building for ${platformArgs.TARGETARCH}`)
   */
  arg(...platform: readonly PlatformArg[]): Stage;
  arg(
    nameOrArgs: string | PlatformArg | Readonly<Record<string, string | undefined>>,
    ...rest: readonly (string | PlatformArg | undefined)[]
  ): Stage {
    if (isPlatformArg(nameOrArgs)) {
      const all = [nameOrArgs, ...rest];
      if (!all.every(isPlatformArg))
        usage(
          'arg()',
          'takes either platform ARG values or a name and default',
          '.arg(platformArgs.TARGETARCH)',
        );
      return this.#with(located({ kind: 'arg', args: all.map((a) => ({ name: (a as PlatformArg).name })) }));
    }
    const defaultValue = rest[0] as string | undefined;
    const args = typeof nameOrArgs === 'string' ? { [nameOrArgs]: defaultValue } : nameOrArgs;
    return this.#with(located({ kind: 'arg', args: argDecls(args) }));
  }

  /**
   * `LABEL`s; `ociLabels()` writes the OCI annotation keys for you.
   * @example .label({ 'org.opencontainers.image.source': 'https://github.com/me/app' })
   */
  label(labels: Readonly<Record<string, string>>): Stage {
    return this.#with(located({ kind: 'label', labels: keyValues(labels) }));
  }

  /**
   * `EXPOSE`: ports the image listens on (documentation for whoever runs it).
   * @example .expose(3000) // also expose(53, '53/udp') and expose('8000-8010')
   */
  expose(...ports: readonly (number | string)[]): Stage {
    return this.#with(located({ kind: 'expose', ports: ports.map(String) }));
  }

  /**
   * `VOLUME` mount points.
   * @example .volume('/data')
   */
  volume(...paths: readonly string[]): Stage {
    return this.#with(located({ kind: 'volume', paths: [...paths] }));
  }

  /**
   * `USER`: a name or uid, optionally with a group; or `nonRootUser()`, which creates an unprivileged
   * user (a RUN) and switches to it by number.
   * @example .user('node') // also user(1000), user('node', 'node') → USER node:node, and user(nonRootUser())
   */
  user(user: string | number | NonRootUser, group?: string | number): Stage {
    if (isNonRootUser(user)) {
      if (group !== undefined) usage('user()', 'takes no group with nonRootUser()', 'nonRootUser({ gid })');
      return (user.script === undefined ? this : this.run(user.script)).user(user.uid, user.gid);
    }
    const value = group === undefined ? String(user) : `${user}:${group}`;
    return this.#with(located({ kind: 'user', user: value }));
  }

  /**
   * `CMD` in exec form; `sh('…')` for shell form.
   * @example .cmd(['node', 'server.js'])
   */
  cmd(command: CommandInput): Stage {
    return this.#with(located({ kind: 'cmd', command: commandOf('cmd', command) }));
  }

  /**
   * `ENTRYPOINT` in exec form; `sh('…')` for shell form. It clears an inherited CMD.
   * @example .entrypoint(['/usr/bin/tini', '--']).cmd(['node', 'server.js'])
   */
  entrypoint(command: CommandInput): Stage {
    return this.#with(located({ kind: 'entrypoint', command: commandOf('entrypoint', command) }));
  }

  /**
   * `HEALTHCHECK`: an exec-form test (or `sh('…')`) with timings, or `'none'` to disable an inherited one.
   * @example .healthcheck(['wget', '-qO-', 'http://localhost:3000/health'], { interval: '30s', retries: 3 })
   */
  healthcheck(test: CommandInput | 'none', options: HealthcheckOptions = {}): Stage {
    checkOptions('healthcheck()', options, HEALTHCHECK_OPTIONS);
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

  /**
   * `STOPSIGNAL`: the signal `docker stop` sends (a name or number).
   * @example .stopsignal('SIGINT')
   */
  stopsignal(signal: string | number): Stage {
    return this.#with(located({ kind: 'stopsignal', signal: String(signal) }));
  }

  /**
   * `SHELL`: the shell for later shell-form commands.
   * @example .shell(['/bin/bash', '-o', 'pipefail', '-c'])
   */
  shell(argv: readonly string[]): Stage {
    return this.#with(located({ kind: 'shell', argv: [...argv] }));
  }

  /**
   * `MAINTAINER` (deprecated in Dockerfiles): the image config's `author` field. Prefer
   * `label(ociLabels({ authors }))`.
   * @example .maintainer('Jane Doe <jane@example.com>')
   */
  maintainer(name: string): Stage {
    return this.#with(located({ kind: 'maintainer', name }));
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
      if (instruction.kind === 'onbuild')
        usage('onbuild()', 'cannot record an ONBUILD (ONBUILD cannot be nested)', undefined, source);
      if (instruction.kind === 'maintainer')
        usage(
          'onbuild()',
          'cannot record MAINTAINER (BuildKit refuses it as a trigger)',
          'label(ociLabels({ authors })) instead',
          source,
        );
      next = next.#with({ kind: 'onbuild', instruction, ...(source ? { source } : {}) });
    }
    return next;
  }
}

/**
 * What `stage()` returns: a stage without a base yet; `.from()` gives it one.
 * @example stage('app').from('node:20-alpine')
 */
export interface StageStart {
  /**
   * `FROM`: an image reference (`'node:20-alpine'`, `'alpine@sha256:…'`), `'scratch'`, an `image()` value,
   * or another stage value.
   * @example stage('app').from('alpine:3.20', { platform: 'linux/arm64' })
   */
  from(base: string | Stage | ImageValue, options?: FromOptions): Stage;
}

/**
 * Starts a stage. Name it to refer to it in the Dockerfile (`AS name`) and in progress output;
 * anonymous stages get stable generated names.
 * @example stage('build').from('node:20-alpine').workdir('/app')
 */
export function stage(name?: string): StageStart {
  if (name !== undefined && (typeof name !== 'string' || name === ''))
    usage('stage()', 'expects a stage name or nothing', "stage('build')", callSite());
  return {
    from(base, options = {}) {
      const source = callSite();
      checkOptions('from()', options, FROM_OPTIONS, source);
      const root: StageRoot = {
        name,
        base: baseOf(base, source),
        platform: platformWord(options.platform, 'from()'),
        source,
      };
      return new Stage(undefined, { kind: 'root', root });
    },
  };
}

/**
 * Whether `value` is a stage value (by any copy of @wharf/core: the check reads a `Symbol.for` brand).
 * @example isStage(stage('app').from('alpine')) // true
 */
export function isStage(value: unknown): value is Stage {
  return typeof value === 'object' && value !== null && STAGE_BRAND in value;
}

function baseOf(base: string | Stage | ImageValue, at: SourceLocation | undefined): StageRoot['base'] {
  if (isStage(base)) return base;
  const ref = typeof base === 'string' ? base : (base as ImageValue | undefined)?.ref;
  if (typeof ref !== 'string' || ref.trim() === '') {
    usage(
      'from()',
      `expected an image reference, "scratch" or a stage value, got ${describe(base)}`,
      "from('node:20-alpine') or from(build)",
      at,
    );
  }
  return ref === 'scratch' ? { kind: 'scratch' } : { kind: 'image', ref };
}

function isStringArray(value: unknown): value is readonly string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

function located<T extends DraftInstruction>(instruction: T): T {
  const source = callSite();
  return source ? { ...instruction, source } : instruction;
}

function fileCopyFields(
  method: string,
  src: CopySource,
  dest: string,
  options: FileCopyOptions,
  at: SourceLocation | undefined,
) {
  const list: readonly unknown[] = Array.isArray(src) ? src : [src];
  const sources: string[] = [];
  const heredocs: Heredoc[] = [];
  for (const item of list) {
    if (typeof item === 'string') sources.push(item);
    else if (isHeredocValue(item)) heredocs.push(item.heredoc);
    else
      usage(
        method,
        `expects source paths (strings) or heredoc() files, got ${describe(item)}`,
        undefined,
        at,
      );
  }
  if (typeof dest !== 'string')
    usage(method, `expects a destination path, got ${describe(dest)}`, undefined, at);
  if (typeof options.chmod === 'number') {
    usage(
      method,
      `chmod ${options.chmod} is a number: is it octal?`,
      `write the mode as an octal string: chmod: '${(options.chmod as number).toString(8)}' or '${options.chmod}'`,
      at,
    );
  }
  return {
    sources,
    dest,
    ...(options.chown === undefined ? {} : { chown: String(options.chown) }),
    ...(options.chmod === undefined ? {} : { chmod: options.chmod }),
    ...(options.link ? { link: true } : {}),
    ...(options.exclude?.length ? { exclude: [...options.exclude] } : {}),
    ...(heredocs.length ? { heredocs } : {}),
  };
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
  const input: unknown = command; // a build.ts in plain JavaScript passes anything
  if (typeof input === 'string') {
    usage(
      `${method}()`,
      `got the string ${describe(input)}: exec form is an array`,
      `${method}(${JSON.stringify(input.trim().split(/\s+/))}), or ${method}(sh(${JSON.stringify(input)})) for shell form`,
    );
  }
  if (!isShellForm(command) && !isStringArray(command)) {
    usage(
      `${method}()`,
      `expects an array of strings or sh('…'), got ${describe(command)}`,
      `${method}(['node', 'server.js'])`,
    );
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
