/**
 * Renders build events: a live `tty` view (a line per running step with its timer, finished steps
 * scrolling above), `plain` lines (CI, pipes), `json` (one event per line, for tools), or `quiet`.
 * `auto` is `tty` on a terminal outside CI, else `plain`. The only code that writes progress.
 */
import type { BuildEvent, EventSink } from '@wharf/core';
import { ttySink } from './tty.js';

export const PROGRESS_MODES = ['auto', 'plain', 'tty', 'json', 'quiet'] as const;
export type ProgressMode = (typeof PROGRESS_MODES)[number];

export interface Progress {
  readonly sink: EventSink;
  /** Stops timers and leaves the terminal clean; call when the build ends, success or not. */
  close(): void;
}

export function progressSink(mode: ProgressMode, out: NodeJS.WriteStream = process.stderr): Progress {
  const none = () => {};
  if (mode === 'quiet') return { sink: none, close: none };
  if (mode === 'json') return { sink: (event) => out.write(`${JSON.stringify(event)}\n`), close: none };
  const tty = mode === 'tty' || (mode === 'auto' && out.isTTY === true && !process.env.CI);
  return tty ? ttySink(out, plainSink) : { sink: plainSink(out), close: none };
}

export function plainSink(out: NodeJS.WritableStream): EventSink {
  return (event: BuildEvent) => {
    switch (event.type) {
      case 'stage-started':
        out.write(`[${event.stage}] FROM ${event.base}\n`);
        return;
      case 'step-finished': {
        const layer = event.layer
          ? `  ${event.layer.digest.slice(7, 19)} ${formatBytes(event.layer.size)}`
          : '';
        const status = event.cached ? '  CACHED' : event.miss ? `  (rebuilt: ${event.miss})` : '';
        const time = `${(event.ms / 1000).toFixed(1)}s`;
        out.write(`[${event.stage} ${event.step}] ${firstLine(event.text)}  ${time}${layer}${status}\n`);
        return;
      }
      case 'warning':
        out.write(`wharf: warning: ${event.message}\n${event.hint ? `  hint: ${event.hint}\n` : ''}`);
        return;
      case 'log':
        if (event.text.trim() === '') return;
        out.write(`${event.stage ? `[${event.stage}] ` : ''}${event.text}\n`);
        return;
      case 'output-written':
        out.write(`wrote ${event.kind} ${event.dest} (${event.digest})\n`);
        return;
      default:
        return;
    }
  };
}

function firstLine(text: string): string {
  const line = text.split('\n')[0] ?? '';
  return line.length > 100 ? `${line.slice(0, 97)}...` : line;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 'B';
  for (const u of units) {
    if (value < 1000) break;
    value /= 1000;
    unit = u;
  }
  if (unit === 'B') {
    value /= 1000;
    unit = 'kB';
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${unit}`;
}
