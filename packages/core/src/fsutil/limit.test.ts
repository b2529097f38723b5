import { describe, expect, it } from 'vitest';
import { mapLimit, Semaphore } from './limit.js';

describe('Semaphore', () => {
  it('lets `limit` holders in at once and the waiting ones in arrival order', async () => {
    const semaphore = new Semaphore(2);
    const order: number[] = [];
    let inside = 0;
    let most = 0;
    await Promise.all(
      [1, 2, 3, 4, 5].map(async (n) => {
        await semaphore.acquire();
        order.push(n);
        most = Math.max(most, ++inside);
        await new Promise((resolve) => setTimeout(resolve, 5));
        inside--;
        semaphore.release();
      }),
    );
    expect(most).toBe(2);
    expect(order).toEqual([1, 2, 3, 4, 5]);
  });
});

describe('mapLimit', () => {
  it('keeps at most `limit` in flight and returns results in input order', async () => {
    let inside = 0;
    let most = 0;
    const results = await mapLimit([30, 5, 20, 1, 10], 2, async (ms, i) => {
      most = Math.max(most, ++inside);
      await new Promise((resolve) => setTimeout(resolve, ms));
      inside--;
      return i * 10;
    });
    expect(most).toBe(2);
    expect(results).toEqual([0, 10, 20, 30, 40]);
  });

  it('starts nothing after a failure and rejects with the first one once the running ones settle', async () => {
    const started: number[] = [];
    let settled = 0;
    const run = mapLimit([1, 2, 3, 4], 2, async (n) => {
      started.push(n);
      await new Promise((resolve) => setTimeout(resolve, n === 1 ? 1 : 20));
      settled++;
      if (n === 1) throw new Error('first');
      return n;
    });
    await expect(run).rejects.toThrow('first');
    expect(started).toEqual([1, 2]);
    expect(settled).toBe(2);
  });

  it('handles an empty list', async () => {
    expect(await mapLimit([], 3, async () => 1)).toEqual([]);
  });
});
