/**
 * The one concurrency limiter: a {@link Semaphore} for work that takes and gives back a place, and
 * {@link mapLimit} for running a function over a list with a bounded number in flight.
 */

/**
 * At most `limit` holders at a time; the others wait in order (gzip blocks, per-layer compression).
 *
 * @example
 * const cores = new Semaphore(availableParallelism());
 * await cores.acquire();
 * try { await work(); } finally { cores.release(); }
 */
export class Semaphore {
  #active = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(readonly limit: number) {}

  async acquire(): Promise<void> {
    if (this.#active < this.limit) {
      this.#active++;
      return;
    }
    // The releaser hands its place over: #active stays the same.
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#active--;
  }
}

/**
 * Runs `fn` over `items` with at most `limit` in flight, results in input order. After a failure no
 * new item starts; it rejects with the first failure once the running ones settle.
 *
 * @example
 * const sizes = await mapLimit(blobs, 4, (blob) => push(blob));
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let failed: { error: unknown } | undefined;
  const worker = async () => {
    while (failed === undefined && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i] as T, i);
      } catch (error) {
        failed ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failed) throw failed.error;
  return results;
}

/**
 * A queue per key: the returned function runs `work` once every earlier `work` under the same key has
 * settled (fulfilled or not), so work on one key is never done twice at once.
 * @example
 * const oneAtATime = keyedQueue();
 * await Promise.all([oneAtATime('k', build), oneAtATime('k', build)]); // the second starts after the first
 */
export function keyedQueue(): <T>(key: string, work: () => Promise<T>) => Promise<T> {
  const tails = new Map<string, Promise<void>>();
  return async <T>(key: string, work: () => Promise<T>): Promise<T> => {
    const before = tails.get(key) ?? Promise.resolve();
    const mine = before.then(work, work);
    const tail = mine.then(
      () => {},
      () => {},
    );
    tails.set(key, tail);
    try {
      return await mine;
    } finally {
      if (tails.get(key) === tail) tails.delete(key);
    }
  };
}
