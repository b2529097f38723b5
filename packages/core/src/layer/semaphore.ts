/**
 * At most `limit` holders at a time; the others wait in order. Shared by the gzip block pool
 * (`parallel-gzip.ts`) and the engine's per-layer compression limit (`engine/compress.ts`).
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
