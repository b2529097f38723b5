/**
 * The `wharf` program: commander wiring and the one place that turns errors into exit codes
 * (1 for user errors, 2 for usage errors) and messages (no stack trace unless `--debug`).
 */
import { isWharfError } from '@wharf/core';
import { fileSystemProblem } from '@wharf/core/export';
import { Command, CommanderError } from 'commander';
import { registerAttestations } from './commands/attestations.js';
import { registerBake } from './commands/bake.js';
import { registerBuild } from './commands/build.js';
import { registerCache } from './commands/cache.js';
import { registerConvert } from './commands/convert.js';
import { registerDockerfile } from './commands/dockerfile.js';
import { registerInit } from './commands/init.js';
import { registerInspect } from './commands/inspect.js';
import { registerLint } from './commands/lint.js';
import { registerLock } from './commands/lock.js';
import { registerLogin } from './commands/login.js';
import { registerPull } from './commands/pull.js';
import { registerPush } from './commands/push.js';
import { registerSbom } from './commands/sbom.js';
import { registerSign } from './commands/sign.js';
import { registerVerify } from './commands/verify.js';
import { exitCodeFor, handleStopSignals, interruptedBy, stopListening } from './interrupt.js';
import { version } from './version.js';

export const EXIT_USER_ERROR = 1;
export const EXIT_USAGE = 2;

/** Errors about how the command was called (its flags), not about the input: exit 2, as documented. */
const USAGE_CODES: ReadonlySet<string> = new Set([
  'IR_UNKNOWN_TARGET', // --target names no stage
  'DSL_UNKNOWN_TARGET',
  'EXPORT_INVALID_OUTPUT', // -o type=… that is not an output
  'BUILD_PUSH_NO_NAME', // --push without -t
  'CLI_PRUNE_WHAT', // cache prune without --keep-storage or --all
  'CLI_BAD_BUILD_ARG',
  'CLI_BAD_SIGN', // --sign / wharf sign flags
  'CLI_BAD_VERIFY', // wharf verify without a key or an identity
]);

export function createProgram(): Command {
  const program = new Command('wharf')
    .description('Build container images from build.ts or a Dockerfile.')
    .version(version, '-V, --version')
    .option('--debug', 'print stack traces and internal details on errors')
    .showHelpAfterError('(run wharf --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  registerBuild(program);
  registerBake(program);
  registerDockerfile(program);
  registerInspect(program);
  registerConvert(program);
  registerLint(program);
  registerInit(program);
  registerLock(program);
  registerPull(program);
  registerPush(program);
  registerSbom(program);
  registerSign(program);
  registerVerify(program);
  registerAttestations(program);
  registerLogin(program);
  registerCache(program);
  for (const command of program.commands) command.exitOverride();
  return program;
}

/** Runs the CLI and returns the exit code (128 + n when signal n stopped it: 130, 143, 129). */
export async function run(argv: readonly string[]): Promise<number> {
  const program = createProgram();
  handleStopSignals();
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (!interruptedBy()) return report(error, argv.includes('--debug'));
  } finally {
    stopListening();
  }
  const signal = interruptedBy();
  if (!signal) return 0;
  process.stderr.write(
    `wharf: stopped by ${signal}; running steps were killed, their mounts, secrets and temp files removed\n`,
  );
  return exitCodeFor(signal);
}

function report(error: unknown, debug: boolean): number {
  if (error instanceof CommanderError) {
    // commander has already printed the usage problem; help and --version end here with 0.
    return error.exitCode === 0 ? 0 : EXIT_USAGE;
  }
  if (isWharfError(error)) {
    process.stderr.write(`wharf: ${error.describe()}\n`);
    if (debug) process.stderr.write(`${error.stack ?? ''}\n${causeChain(error)}`);
    return USAGE_CODES.has(error.code) ? EXIT_USAGE : EXIT_USER_ERROR;
  }
  // A full disk, a permission problem or a read-only filesystem: the path and the fix, not a bug.
  const problem = fileSystemProblem(error) ?? fileSystemProblem((error as Error | undefined)?.cause);
  if (problem) {
    process.stderr.write(`wharf: ${problem.message}\n  hint: ${problem.hint}\n`);
    if (debug) process.stderr.write(`${(error as Error)?.stack ?? ''}\n`);
    return EXIT_USER_ERROR;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`wharf: internal error: ${message}\n`);
  process.stderr.write(
    debug ? `${(error as Error)?.stack ?? ''}\n` : '  (run again with --debug for details, and report it)\n',
  );
  return EXIT_USER_ERROR;
}

function causeChain(error: Error): string {
  let text = '';
  for (let cause = error.cause; cause; cause = (cause as Error).cause) {
    text += `caused by: ${cause instanceof Error ? (cause.stack ?? cause.message) : String(cause)}\n`;
  }
  return text;
}
