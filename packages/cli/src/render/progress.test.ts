import { PassThrough } from 'node:stream';
import type { BuildEvent } from '@wharf/core';
import { describe, expect, it } from 'vitest';
import { jsonSink } from './json.js';
import { plainProgress } from './progress.js';
import { formatBytes } from './size.js';

function capture(): { out: PassThrough; text: () => string } {
  const out = new PassThrough();
  const chunks: string[] = [];
  out.on('data', (c: Buffer) => chunks.push(c.toString()));
  return { out, text: () => chunks.join('') };
}

const started = (stage: string, step: number, text: string): BuildEvent => ({
  type: 'step-started',
  stage,
  step,
  text,
});
const finished = (stage: string, step: number, text: string): BuildEvent => ({
  type: 'step-finished',
  stage,
  step,
  text,
  ms: 0,
});

describe('plain progress', () => {
  it('prints a stage’s steps in build order while output of a running step goes out live', () => {
    const { out, text } = capture();
    const progress = plainProgress(out);
    // The order the engine reports them in: metadata steps finish while a COPY layer is still written.
    const events: BuildEvent[] = [
      { type: 'stage-started', stage: 'api', base: 'busybox' },
      started('api', 1, 'WORKDIR /app'),
      started('api', 2, 'COPY . .'),
      started('api', 3, 'CMD ["sh"]'),
      finished('api', 3, 'CMD ["sh"]'),
      { type: 'log', stage: 'api', step: 2, text: 'copying' },
      finished('api', 2, 'COPY . .'),
      finished('api', 1, 'WORKDIR /app'),
    ];
    for (const e of events) progress.sink(e);
    expect(text()).toBe(
      [
        '[api] FROM busybox',
        '[api 2] copying',
        '[api 1] WORKDIR /app  0.0s',
        '[api 2] COPY . .  0.0s',
        '[api 3] CMD ["sh"]  0.0s',
        '',
      ].join('\n'),
    );
  });

  it('keeps stages apart and prints what a failed build left held back on close', () => {
    const { out, text } = capture();
    const progress = plainProgress(out);
    progress.sink(started('a', 1, 'RUN x'));
    progress.sink(started('b', 1, 'ENV B=1'));
    progress.sink(finished('b', 1, 'ENV B=1'));
    progress.sink(started('a', 2, 'ENV A=1'));
    progress.sink(finished('a', 2, 'ENV A=1'));
    expect(text()).toBe('[b 1] ENV B=1  0.0s\n');
    progress.close(); // step a 1 failed: a 2 still shows
    expect(text()).toBe('[b 1] ENV B=1  0.0s\n[a 2] ENV A=1  0.0s\n');
  });

  it('names the references of a registry output and renders push events', () => {
    const { out, text } = capture();
    const progress = plainProgress(out);
    const digest = `sha256:${'a'.repeat(64)}`;
    progress.sink({
      type: 'blob-pushed',
      reference: 'r.test/app:1',
      digest,
      size: 2_500_000,
      sent: 2_500_000,
    });
    progress.sink({ type: 'blob-exists', reference: 'r.test/app:1', digest, size: 10 });
    progress.sink({ type: 'manifest-pushed', reference: 'r.test/app:1', digest });
    progress.sink({
      type: 'output-written',
      kind: 'registry',
      dest: '',
      digest,
      references: ['r.test/app:1'],
    });
    expect(text()).toBe(
      [
        'pushed aaaaaaaaaaaa 2.5 MB to r.test/app:1',
        'aaaaaaaaaaaa already in r.test/app:1',
        `pushed r.test/app:1 (${digest})`,
        `wrote registry r.test/app:1 (${digest})`,
        '',
      ].join('\n'),
    );
  });
});

describe('json progress', () => {
  it('stamps every event with an ISO 8601 UTC time', () => {
    const { out, text } = capture();
    const before = Date.now();
    jsonSink(out)({ type: 'warning', message: 'w' });
    const event = JSON.parse(text()) as { time: string; type: string; message: string };
    expect(event.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(Date.parse(event.time)).toBeGreaterThanOrEqual(before);
    expect(event).toMatchObject({ type: 'warning', message: 'w' });
  });
});

describe('formatBytes', () => {
  it('uses SI units (1 kB = 1000 B), as docker does', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(1000)).toBe('1.0 kB');
    expect(formatBytes(1536)).toBe('1.5 kB');
    expect(formatBytes(999_960)).toBe('1.0 MB');
    expect(formatBytes(12_345_678)).toBe('12 MB');
    expect(formatBytes(3.4e9)).toBe('3.4 GB');
  });
});
