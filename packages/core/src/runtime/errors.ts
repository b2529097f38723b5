import { WharfError, type WharfErrorOptions } from '../errors.js';

/** Stable codes for everything `runtime/` reports. */
export type RuntimeErrorCode =
  /** No OCI runtime (runc/crun) on this machine, or not Linux. */
  | 'RUNTIME_UNAVAILABLE'
  /** RUN for a foreign architecture, and no QEMU emulator (with the F flag) is registered in binfmt_misc. */
  | 'RUNTIME_NO_EMULATION'
  /** The runtime itself failed (bad bundle, mount refused), before or around the command. */
  | 'RUNTIME_FAILED'
  /** A layer tar tried to write outside its root (`..`, a symlink parent, a link out of the layer). */
  | 'RUNTIME_UNSAFE_LAYER'
  /** A layer tar that cannot be extracted (a hard link to a missing file, a read error). */
  | 'RUNTIME_BAD_LAYER'
  /** Preparing the root filesystem failed (mount, copy, disk). */
  | 'RUNTIME_SNAPSHOT_FAILED'
  /** The command exited non-zero. */
  | 'RUN_FAILED'
  /** The command was stopped by the caller's AbortSignal. */
  | 'RUN_ABORTED'
  /** The command ran longer than `timeoutMs`. */
  | 'RUN_TIMEOUT'
  | 'RUN_UNKNOWN_USER'
  | 'RUN_UNKNOWN_GROUP'
  /** A `--mount=type=secret,required` whose id the build was not given. */
  | 'RUN_SECRET_MISSING'
  /** A `--mount=type=ssh,required` without an agent socket. */
  | 'RUN_SSH_MISSING'
  /** A mount that cannot be set up (bad target, missing bind source, unwritable cache dir). */
  | 'RUN_BAD_MOUNT';

/** A `WharfError` whose code is one of {@link RuntimeErrorCode}; only the code type is narrowed. */
export class RuntimeError extends WharfError<RuntimeErrorCode> {
  override readonly name: string = 'RuntimeError';
}

export interface RunFailedDetails {
  /** The argv that ran (shell form: `[...SHELL, script]`). */
  readonly command: readonly string[];
  readonly exitCode: number;
  /** The last lines of stdout and stderr, interleaved as they arrived. */
  readonly lastLines: readonly string[];
}

/** `RUN_FAILED`: the command, its exit code and its last lines of output, as data and in the message. */
export class RunFailedError extends RuntimeError implements RunFailedDetails {
  override readonly name: string = 'RunFailedError';
  readonly command: readonly string[];
  readonly exitCode: number;
  readonly lastLines: readonly string[];

  constructor(details: RunFailedDetails, options: WharfErrorOptions = {}) {
    const text = details.lastLines.length
      ? `\n${details.lastLines.map((line) => `  | ${line}`).join('\n')}`
      : ' (no output)';
    super(
      'RUN_FAILED',
      `process ${JSON.stringify(details.command.join(' '))} did not complete successfully: exit code ${details.exitCode}${text}`,
      {
        ...options,
        hint: options.hint ?? 'the command failed inside the build container: see its output above',
      },
    );
    this.command = details.command;
    this.exitCode = details.exitCode;
    this.lastLines = details.lastLines;
  }
}
