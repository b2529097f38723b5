/**
 * `--progress json`: one build event per line on stderr, each with `time`, the moment it happened as an
 * ISO 8601 UTC timestamp with milliseconds (`2026-12-06T15:04:05.123Z`), first. The fields of each event
 * type are listed in docs/progress-events.md.
 */
import type { BuildEvent, EventSink } from '@wharf/core';

export function jsonSink(out: NodeJS.WritableStream): EventSink {
  return (event: BuildEvent) =>
    out.write(`${JSON.stringify({ time: new Date().toISOString(), ...event })}\n`);
}
