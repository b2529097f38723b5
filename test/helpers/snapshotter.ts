import { afterAll, beforeAll } from 'vitest';

/**
 * Runs the builds of the enclosing `describe` with the `mode` snapshotter (`WHARF_SNAPSHOTTER`, read
 * when a build opens its snapshot root), whatever the environment says; restored afterwards.
 */
export function useSnapshotter(mode: 'overlay' | 'copy'): void {
  const saved = process.env.WHARF_SNAPSHOTTER;
  beforeAll(() => {
    process.env.WHARF_SNAPSHOTTER = mode;
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.WHARF_SNAPSHOTTER;
    else process.env.WHARF_SNAPSHOTTER = saved;
  });
}
