/**
 * The build graph: the one contract between front ends (the DSL, the Dockerfile parser) and back ends
 * (the Dockerfile emitter, the direct engine). Plain JSON data — no classes, no functions, no Maps —
 * so it can be printed, compared in tests and cached.
 *
 * ## Text conventions
 * - **Words** (`Word`) are Dockerfile words *after* quote removal and *before* variable expansion:
 *   `$NAME`, `${NAME}`, `${NAME:-default}` … expand where BuildKit expands (FROM, WORKDIR, ENV, LABEL,
 *   USER, EXPOSE, VOLUME, STOPSIGNAL, COPY/ADD paths and flags, ARG defaults), and `\$` stands for a
 *   literal `$`, and in a run of backslashes right before a `$` each `\\` stands for one literal backslash
 *   (`\\$HOME`: a backslash, then HOME's value). Everything else is literal, including spaces, quotes and
 *   other backslashes (`C:\dir`).
 * - **Shell scripts** (`ShellCommand.script`) are passed to the shell verbatim: no expansion by the
 *   builder (the shell expands), no quote removal.
 * - **Exec arguments** (`ExecCommand.argv`) are literal strings, never expanded.
 */
import type { SourceLocation } from '../errors.js';

/** A Dockerfile word: literal text with `$VAR` references that the builder expands (see module doc). */
export type Word = string;

/**
 * The IR: a whole build as plain JSON data (global ARGs, stages of typed instructions, contexts, the
 * target), made by `toGraph()` from a build.ts or by `lowerDockerfile()` from a Dockerfile.
 * @example toGraph(stage('app').from('alpine:3.20').cmd(['sh'])).stages[0].instructions // [{ kind: 'cmd', … }]
 */
export interface BuildGraph {
  readonly version: 1;
  /** Global ARGs (declared before the first FROM); usable in FROM lines and re-declarable in stages. */
  readonly args: readonly ArgDecl[];
  /** Stages in dependency order: every stage comes after the stages it uses. The target is last. */
  readonly stages: readonly Stage[];
  /** The main build context. */
  readonly context: ContextSpec;
  /** Named build contexts (`COPY --from=<name>`, buildx `--build-context name=dir`). */
  readonly namedContexts: Readonly<Record<string, ContextSpec>>;
  /** The stage to build (a name in `stages`); the last stage when absent. */
  readonly target?: string;
  /**
   * Parser directives the author wrote at the top of a Dockerfile (`# syntax=…`, `# check=…`): kept so the
   * emitted Dockerfile says the same; they do not change the image.
   */
  readonly directives?: Directives;
  /** Comment lines at the top of the file, above the first instruction (without `#`). */
  readonly comments?: readonly string[];
}

export interface Directives {
  /** `# syntax=<frontend image>`. */
  readonly syntax?: string;
  /** `# check=<build check settings>`. */
  readonly check?: string;
}

export interface ContextSpec {
  /** Directory, relative to the build definition's folder (or absolute). */
  readonly dir: string;
  /**
   * `.dockerignore` patterns. `undefined` means "use the context's own `.dockerignore` file, if any",
   * as Docker does; an array (even empty) replaces that file.
   */
  readonly ignore?: readonly string[];
}

export interface ArgDecl {
  readonly name: string;
  /** Default value (a Word, expanded against earlier ARGs/ENV); absent means no default. */
  readonly default?: Word;
}

export interface Stage {
  /** Unique in the graph. Anonymous DSL stages get stable generated names (`stage-0`, `stage-1`…). */
  readonly name: string;
  /**
   * Comment lines right above the stage's FROM line (without `#`). Those above the file's first instruction
   * are the graph's `comments` instead.
   */
  readonly comments?: readonly string[];
  readonly base: BaseRef;
  /** FROM --platform (a Word, e.g. `linux/arm64` or `$BUILDPLATFORM`). */
  readonly platform?: Word;
  readonly instructions: readonly Instruction[];
  readonly source?: SourceLocation;
}

/** What a stage starts from. */
export type BaseRef =
  | { readonly kind: 'image'; readonly ref: Word }
  | { readonly kind: 'stage'; readonly stage: string }
  | { readonly kind: 'scratch' };

/** Where COPY --from and RUN --mount from=… read: another stage, an image, or a named context. */
export type FromRef =
  | { readonly kind: 'stage'; readonly stage: string }
  | { readonly kind: 'image'; readonly ref: Word }
  | { readonly kind: 'context'; readonly name: string };

export type Command = ShellCommand | ExecCommand;
export interface ShellCommand {
  readonly form: 'shell';
  readonly script: string;
}
export interface ExecCommand {
  readonly form: 'exec';
  readonly argv: readonly string[];
}

/** A heredoc attached to RUN or COPY (`<<EOF`). */
export interface Heredoc {
  /** The delimiter word, and for COPY the file name the content is written to. */
  readonly name: string;
  readonly content: string;
  /** Unquoted delimiter: the content is expanded (COPY) / parameter-expanded by the shell (RUN). */
  readonly expand: boolean;
  /** `<<-`: leading tabs are stripped from each line. */
  readonly chomp: boolean;
}

export type Instruction =
  | RunInstruction
  | CopyInstruction
  | AddInstruction
  | WorkdirInstruction
  | EnvInstruction
  | ArgInstruction
  | LabelInstruction
  | ExposeInstruction
  | VolumeInstruction
  | UserInstruction
  | CmdInstruction
  | EntrypointInstruction
  | HealthcheckInstruction
  | StopsignalInstruction
  | ShellInstruction
  | MaintainerInstruction
  | OnbuildInstruction;

export type InstructionKind = Instruction['kind'];

interface Located {
  readonly source?: SourceLocation;
  /** Comment lines that preceded the instruction (without `#`), carried for codegen and emit. */
  readonly comments?: readonly string[];
}

export interface RunInstruction extends Located {
  readonly kind: 'run';
  readonly command: Command;
  readonly mounts?: readonly Mount[];
  readonly network?: 'default' | 'none' | 'host';
  readonly security?: 'sandbox' | 'insecure';
  /** Heredocs after the command (`RUN <<EOF …`). When present, `command` is the shell line holding `<<EOF`. */
  readonly heredocs?: readonly Heredoc[];
}

export type Mount = CacheMount | BindMount | SecretMount | SshMount | TmpfsMount;

export interface CacheMount {
  readonly type: 'cache';
  readonly target: Word;
  /** The cache's name: mounts with one id share one directory (default: the target path). */
  readonly id?: Word;
  /** Concurrent builds: `shared` (default) all write at once, `private` each gets its own, `locked` take turns. */
  readonly sharing?: 'shared' | 'private' | 'locked';
  /** Mount read-only. */
  readonly readonly?: boolean;
  /** Seed an empty cache from this stage, image or context (with `source`, a path in it). */
  readonly from?: FromRef;
  /** The path in `from` to mount (default its root). */
  readonly source?: Word;
  /** Octal string, e.g. `0755`. */
  readonly mode?: string;
  /** Owner of a new cache directory (default 0). */
  readonly uid?: number;
  /** Group of a new cache directory (default 0). */
  readonly gid?: number;
}

export interface BindMount {
  readonly type: 'bind';
  readonly target: Word;
  /** The path in `from` to mount (default its root). */
  readonly source?: Word;
  /** Default: the main build context. */
  readonly from?: FromRef;
  /** Allow writes (they are thrown away after the step). */
  readonly readwrite?: boolean;
}

export interface SecretMount {
  readonly type: 'secret';
  /** The secret's id (`--secret id=…`). */
  readonly id?: Word;
  /** Default `/run/secrets/<id>`. */
  readonly target?: Word;
  /** Expose the secret as this environment variable instead of (or as well as) a file. */
  readonly env?: string;
  /** Fail the step when the secret is not given (default: an empty mount). */
  readonly required?: boolean;
  /** Octal file mode (default `0400`). */
  readonly mode?: string;
  /** Owner of the file (default 0). */
  readonly uid?: number;
  /** Group of the file (default 0). */
  readonly gid?: number;
}

export interface SshMount {
  readonly type: 'ssh';
  /** The agent's id (`--ssh id=…`; default `default`). */
  readonly id?: Word;
  /** Socket path (default `/run/buildkit/ssh_agent.<n>`, in `SSH_AUTH_SOCK`). */
  readonly target?: Word;
  /** Fail the step when no agent is forwarded. */
  readonly required?: boolean;
  /** Octal socket mode (default `0600`). */
  readonly mode?: string;
  /** Owner of the socket (default 0). */
  readonly uid?: number;
  /** Group of the socket (default 0). */
  readonly gid?: number;
}

export interface TmpfsMount {
  readonly type: 'tmpfs';
  readonly target: Word;
  /** Bytes. */
  readonly size?: number;
}

/** Fields COPY and ADD share. */
interface FileCopyBase extends Located {
  /** Source paths or globs (Words), relative to the context / the `from` root. */
  readonly sources: readonly Word[];
  /** Destination (a Word); relative destinations resolve against WORKDIR; a trailing `/` means a directory. */
  readonly dest: Word;
  /** `user`, `user:group`, `uid`, `uid:gid` (Word). */
  readonly chown?: Word;
  /** Octal mode such as `755` or `0644` (Word). */
  readonly chmod?: Word;
  readonly link?: boolean;
  readonly exclude?: readonly Word[];
  /** Heredoc sources (`COPY <<EOF /file`): each becomes a file named after its delimiter. */
  readonly heredocs?: readonly Heredoc[];
}

export interface CopyInstruction extends FileCopyBase {
  readonly kind: 'copy';
  readonly from?: FromRef;
  /** `--parents`: keep the source paths' parent directories under the destination. */
  readonly parents?: boolean;
}

export interface AddInstruction extends FileCopyBase {
  readonly kind: 'add';
  /** `--checksum=sha256:…` for URL (or git) sources. */
  readonly checksum?: Word;
  /** `--keep-git-dir` for git sources. */
  readonly keepGitDir?: boolean;
}

export interface WorkdirInstruction extends Located {
  readonly kind: 'workdir';
  readonly path: Word;
}

export interface KeyValue {
  readonly key: Word;
  readonly value: Word;
}

export interface EnvInstruction extends Located {
  readonly kind: 'env';
  readonly vars: readonly KeyValue[];
}

export interface ArgInstruction extends Located {
  readonly kind: 'arg';
  readonly args: readonly ArgDecl[];
}

export interface LabelInstruction extends Located {
  readonly kind: 'label';
  readonly labels: readonly KeyValue[];
}

export interface ExposeInstruction extends Located {
  readonly kind: 'expose';
  /** `80`, `53/udp`, `8000-8010/tcp` (Words). */
  readonly ports: readonly Word[];
}

export interface VolumeInstruction extends Located {
  readonly kind: 'volume';
  readonly paths: readonly Word[];
}

export interface UserInstruction extends Located {
  readonly kind: 'user';
  /** `name`, `uid`, `name:group`, `uid:gid` (Word). */
  readonly user: Word;
}

export interface CmdInstruction extends Located {
  readonly kind: 'cmd';
  readonly command: Command;
}

export interface EntrypointInstruction extends Located {
  readonly kind: 'entrypoint';
  readonly command: Command;
}

export interface HealthcheckInstruction extends Located {
  readonly kind: 'healthcheck';
  readonly check: HealthcheckSpec;
}

export type HealthcheckSpec =
  | { readonly test: 'none' }
  | {
      readonly test: 'cmd';
      readonly command: Command;
      /** Go durations, e.g. `30s`, `1m30s`. */
      readonly interval?: string;
      readonly timeout?: string;
      readonly startPeriod?: string;
      readonly startInterval?: string;
      readonly retries?: number;
    };

export interface StopsignalInstruction extends Located {
  readonly kind: 'stopsignal';
  /** `SIGTERM`, `TERM`, `15` (Word). */
  readonly signal: Word;
}

export interface ShellInstruction extends Located {
  readonly kind: 'shell';
  readonly argv: readonly string[];
}

/** `MAINTAINER name` (deprecated): sets the image config's `author`, as BuildKit does; never expanded. */
export interface MaintainerInstruction extends Located {
  readonly kind: 'maintainer';
  readonly name: string;
}

export interface OnbuildInstruction extends Located {
  readonly kind: 'onbuild';
  /** Any instruction but ONBUILD itself and MAINTAINER (BuildKit refuses both as triggers). */
  readonly instruction: Exclude<Instruction, OnbuildInstruction | MaintainerInstruction>;
}
