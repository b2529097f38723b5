/**
 * SIGINT, SIGTERM and SIGHUP. A command that can stop cleanly (a build: its running step's container
 * is killed and deleted, mounts, secrets and temp files are removed, leases released) takes
 * {@link interruptSignal}; the first signal aborts it, and once it has cleaned up `wharf` exits with
 * 128 + the signal's number (130, 143, 129), as a shell reports a process the signal killed. A second
 * signal, or one while no command listens, exits at once (the next build's sweep removes what is left).
 */
import { constants } from 'node:os';
import { WharfError } from '@wharf/core';

export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
type StopSignal = (typeof STOP_SIGNALS)[number];

const controller = new AbortController();
let listening = false;
let received: StopSignal | undefined;

/** 128 + the signal's number: the exit status a shell gives a process that signal ended. */
export function exitCodeFor(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}

function onSignal(signal: StopSignal): void {
  if (received || !listening) process.exit(exitCodeFor(received ?? signal));
  received = signal;
  process.stderr.write(`wharf: ${signal}: stopping the build and cleaning up…\n`);
  controller.abort(new WharfError('INTERRUPTED', `the build was stopped by ${signal}`));
}

let installed = false;

/** Installs the handlers (once per process); {@link stopListening} when the command is over. */
export function handleStopSignals(): void {
  if (installed) return;
  installed = true;
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
}

/** The signal a command observes to stop cleanly; taking it means the first signal no longer exits at once. */
export function interruptSignal(): AbortSignal {
  listening = true;
  return controller.signal;
}

/** The signal that stopped the command, if one did. */
export function interruptedBy(): StopSignal | undefined {
  return received;
}

/** After the command: a signal now exits at once. */
export function stopListening(): void {
  listening = false;
}
