/**
 * Peak-RSS measurements for tests that prove a writer streams, independent of when V8 collects
 * garbage. Dead chunks (a source's reads, tar's and gzip's output) otherwise wait for V8's
 * external-memory GC, whose timing varies with load (+43 to +70 MB measured on one test), so the peak
 * would be the test's garbage, not the writer's memory. Sources call {@link collectGarbage} every few
 * MiB: it samples RSS first, so a writer that keeps its (fresh) chunks still shows all of its growth.
 *
 * ```ts
 * const growth = await rssGrowth(async () => {
 *   await writeArchive(source); // source calls collectGarbage() every 8 MiB it yields
 * });
 * expect(growth / 2 ** 20).toBeLessThan(60);
 * ```
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** A full GC, also without --expose-gc: the flag set at run time reaches new contexts (as Jest's --detectLeaks). */
export const forceGc: () => void =
  globalThis.gc ??
  (() => {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  })();

let peak = 0;
let atPeak: NodeJS.MemoryUsage | undefined;

/** Records the current RSS if it is the highest so far. */
export function sampleRss(): void {
  const usage = process.memoryUsage();
  if (usage.rss > peak) {
    peak = usage.rss;
    atPeak = usage;
  }
}

/** Samples RSS, then forces a full GC: what a source calls every few MiB. */
export function collectGarbage(): void {
  sampleRss();
  forceGc();
}

/**
 * Peak RSS growth in bytes while `work` runs, over a baseline taken after a full GC; RSS is also
 * sampled every `intervalMs`. `WHARF_MEMORY_DEBUG=1` prints the memory usage at the peak.
 */
export async function rssGrowth(work: () => Promise<void>, intervalMs = 10): Promise<number> {
  forceGc();
  const before = process.memoryUsage().rss;
  peak = before;
  atPeak = undefined;
  const timer = setInterval(sampleRss, intervalMs);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  sampleRss();
  if (process.env.WHARF_MEMORY_DEBUG) console.log(JSON.stringify(atPeak), before);
  return peak - before;
}
