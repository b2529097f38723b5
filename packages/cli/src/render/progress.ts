/**
 * Renders build events: a live `tty` view (a line per running step with its timer, finished steps
 * scrolling above), `plain` lines (CI, pipes), `json` (one event per line, for tools), or `quiet`.
 * `auto` is `tty` on a terminal outside CI, else `plain`. The only code that writes progress.
 *
 * Plain and tty print each stage's finished steps in build order: a step that finishes before an
 * earlier one of its stage (a metadata step while a COPY layer is still being written) waits for it.
 * Output of a running step (`log` events) is printed as it comes.
 */
import type { BuildEvent, EventSink } from '@wharf/core';
import { jsonSink } from './json.js';
import { formatBytes } from './size.js';
import { ttySink } from './tty.js';

export const PROGRESS_MODES = ['auto', 'plain', 'tty', 'json', 'quiet'] as const;
export type ProgressMode = (typeof PROGRESS_MODES)[number];

export interface Progress {
  readonly sink: EventSink;
  /** Prints what is still held back, stops timers and leaves the terminal clean; call when the build ends, success or not. */
  close(): void;
}

export function progressSink(mode: ProgressMode, out: NodeJS.WriteStream = process.stderr): Progress {
  const none = () => {};
  if (mode === 'quiet') return { sink: none, close: none };
  if (mode === 'json') return { sink: jsonSink(out), close: none };
  const tty = mode === 'tty' || (mode === 'auto' && out.isTTY === true && !process.env.CI);
  return tty ? ttySink(out, plainProgress) : plainProgress(out);
}

type StepFinished = Extract<BuildEvent, { type: 'step-finished' }>;

/** Plain lines, each stage's steps in build order. */
export function plainProgress(out: NodeJS.WritableStream): Progress {
  const write = (line: string) => out.write(`${line}\n`);
  // Per stage, the steps started and not yet printed, in the order they started (the build order).
  const pending = new Map<string, { step: number; finished?: StepFinished }[]>();
  const flush = (stage: string, all: boolean) => {
    const queue = pending.get(stage) ?? [];
    while (queue.length > 0) {
      const head = queue[0];
      if (head?.finished === undefined && !all) break;
      queue.shift();
      if (head?.finished) write(stepLine(head.finished));
    }
  };
  const sink = (event: BuildEvent) => {
    switch (event.type) {
      case 'stage-started':
        write(`[${event.stage}] FROM ${event.base}`);
        return;
      case 'step-started': {
        const queue = pending.get(event.stage) ?? [];
        queue.push({ step: event.step });
        pending.set(event.stage, queue);
        return;
      }
      case 'step-finished': {
        // The first unfinished entry with this number (a stage built for two platforms repeats numbers).
        const entry = pending.get(event.stage)?.find((e) => e.step === event.step && !e.finished);
        if (entry === undefined) {
          write(stepLine(event));
          return;
        }
        entry.finished = event;
        flush(event.stage, false);
        return;
      }
      case 'warning':
        write(`wharf: warning: ${event.message}${event.hint ? `\n  hint: ${event.hint}` : ''}`);
        return;
      case 'log': {
        if (event.text.trim() === '') return;
        const where = event.stage ? `[${event.stage}${event.step ? ` ${event.step}` : ''}] ` : '';
        write(`${where}${event.text}`);
        return;
      }
      case 'blob-pushed':
        write(
          `pushed ${short(event.digest)} ${formatBytes(event.size)}${event.sent < event.size ? ` (sent ${formatBytes(event.sent)})` : ''} to ${event.reference}`,
        );
        return;
      case 'blob-exists':
        write(`${short(event.digest)} already in ${event.reference}`);
        return;
      case 'blob-mounted':
        write(`${short(event.digest)} mounted into ${event.reference} from ${event.from}`);
        return;
      case 'manifest-pushed':
        write(`pushed ${event.reference} (${event.digest})`);
        return;
      case 'output-written':
        write(
          event.references?.length
            ? `wrote ${event.kind} ${event.references.join(', ')} (${event.digest})`
            : `wrote ${event.kind} ${event.dest} (${event.digest})`,
        );
        return;
      default:
        return;
    }
  };
  return {
    sink,
    close() {
      for (const stage of pending.keys()) flush(stage, true);
      pending.clear();
    },
  };
}

function stepLine(event: StepFinished): string {
  const layer = event.layer ? `  ${short(event.layer.digest)} ${formatBytes(event.layer.size)}` : '';
  const status = event.cached ? '  CACHED' : event.miss ? `  (rebuilt: ${event.miss})` : '';
  const time = `${(event.ms / 1000).toFixed(1)}s`;
  return `[${event.stage} ${event.step}] ${firstLine(event.text)}  ${time}${layer}${status}`;
}

/** The first 12 hex digits of a digest, as docker shows image IDs. */
function short(digest: string): string {
  return digest.slice(digest.indexOf(':') + 1).slice(0, 12);
}

function firstLine(text: string): string {
  const line = text.split('\n')[0] ?? '';
  return line.length > 100 ? `${line.slice(0, 97)}...` : line;
}
