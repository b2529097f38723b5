import { describe, expect, it } from 'vitest';
import { pushEvent } from './events.js';
import type { RegistryEvent } from './registry/events.js';

describe('pushEvent', () => {
  const digest = `sha256:${'1'.repeat(64)}`;
  it('turns the push events of the registry client into build events for the image pushed', () => {
    const events: RegistryEvent[] = [
      { type: 'blob-pushed', digest, size: 10, sent: 4 },
      { type: 'blob-exists', digest, size: 10 },
      { type: 'blob-mounted', digest, size: 10, from: 'other/repo' },
      { type: 'manifest-pushed', reference: 'r.test/app@sha256:2', digest },
    ];
    expect(events.map((e) => pushEvent('r.test/app:1', e))).toEqual([
      { type: 'blob-pushed', reference: 'r.test/app:1', digest, size: 10, sent: 4 },
      { type: 'blob-exists', reference: 'r.test/app:1', digest, size: 10 },
      { type: 'blob-mounted', reference: 'r.test/app:1', digest, size: 10, from: 'other/repo' },
      // the manifest keeps the reference it was stored under
      { type: 'manifest-pushed', reference: 'r.test/app@sha256:2', digest },
    ]);
  });

  it('leaves out progress, retries and pulls', () => {
    const others: RegistryEvent[] = [
      { type: 'blob-progress', direction: 'push', digest, size: 10, bytes: 5 },
      { type: 'retry', operation: 'PUT', attempt: 1, delayMs: 10, reason: '503' },
      { type: 'blob-fetched', digest, size: 10 },
    ];
    expect(others.map((e) => pushEvent('r.test/app:1', e))).toEqual([undefined, undefined, undefined]);
  });
});
