/**
 * Retries with exponential backoff and jitter (go-containerregistry's `transport/retry.go`): on
 * connection errors, timeouts, 408, 429 (honouring `Retry-After`), 500, 502, 503 and 504, for at most
 * `attempts` tries. Requests marked `retry: false` (chunk uploads) pass through once: their caller
 * resumes from the registry's reported offset instead of re-sending blindly.
 */
import { isRetryable } from '../errors.js';
import { type HttpResponse, header, type Transport } from './types.js';

export interface RetryPolicy {
  /** Tries in total (first attempt included). Default 5. */
  readonly attempts: number;
  /** The first backoff. Default 200 ms. */
  readonly baseDelayMs: number;
  /** The longest backoff. Default 10 s. */
  readonly maxDelayMs: number;
  /** The longest `Retry-After` honoured; longer waits are capped to it. Default 60 s. */
  readonly maxRetryAfterMs: number;
  /** Injected for tests. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Injected for tests: a number in [0, 1). */
  readonly random?: () => number;
  /** Called before each wait. */
  readonly onRetry?: (info: RetryInfo) => void;
}

export interface RetryInfo {
  readonly url: string;
  readonly method: string;
  /** The attempt that failed (1-based). */
  readonly attempt: number;
  readonly delayMs: number;
  /** `HTTP 503` or the error message. */
  readonly reason: string;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  attempts: 5,
  baseDelayMs: 200,
  maxDelayMs: 10_000,
  maxRetryAfterMs: 60_000,
};

export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The wait before attempt `attempt + 1`: "equal jitter" over an exponential backoff, so waits grow
 * and never collapse to zero; a `Retry-After` longer than that wins (capped at `maxRetryAfterMs`).
 */
export function backoffDelay(policy: RetryPolicy, attempt: number, retryAfterMs?: number): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  const jittered = exp / 2 + (policy.random ?? Math.random)() * (exp / 2);
  const floor = retryAfterMs === undefined ? 0 : Math.min(retryAfterMs, policy.maxRetryAfterMs);
  return Math.round(Math.max(jittered, floor));
}

/** `Retry-After` as milliseconds: delay-seconds or an HTTP date; undefined when absent or unparseable. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Whether a response status is worth another attempt. */
export function isRetryableStatus(status: number): boolean {
  return RETRYABLE_STATUSES.has(status);
}

export function resolvePolicy(policy: Partial<RetryPolicy> = {}): RetryPolicy {
  return { ...DEFAULT_RETRY_POLICY, ...policy };
}

/** The retry wrapper. The last response is returned as is (the caller turns it into an error). */
export function withRetry(inner: Transport, partial: Partial<RetryPolicy> = {}): Transport {
  const policy = resolvePolicy(partial);
  const wait = policy.sleep ?? sleep;
  return async (request) => {
    if (request.retry === false) return inner(request);
    for (let attempt = 1; ; attempt++) {
      let response: HttpResponse | undefined;
      let failure: unknown;
      try {
        response = await inner(request);
      } catch (error) {
        if (!isRetryable(error) || attempt >= policy.attempts || request.signal?.aborted) throw error;
        failure = error;
      }
      if (response !== undefined) {
        if (!isRetryableStatus(response.status) || attempt >= policy.attempts) return response;
        await response.body.dump();
      }
      const retryAfter = response ? parseRetryAfter(header(response, 'retry-after')) : undefined;
      const delayMs = backoffDelay(policy, attempt, retryAfter);
      policy.onRetry?.({
        url: request.url,
        method: request.method,
        attempt,
        delayMs,
        reason: response
          ? `HTTP ${response.status}`
          : failure instanceof Error
            ? failure.message
            : String(failure),
      });
      await wait(delayMs);
    }
  };
}

/**
 * The same policy for a whole operation (download a blob, upload a chunk) whose failure shows up as
 * a thrown error rather than a status: retries while `isRetryable(error)`.
 */
export async function retrying<T>(
  partial: Partial<RetryPolicy>,
  what: string,
  operation: (attempt: number) => Promise<T>,
): Promise<T> {
  const policy = resolvePolicy(partial);
  const wait = policy.sleep ?? sleep;
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (error) {
      if (!isRetryable(error) || attempt >= policy.attempts) throw error;
      const retryAfter = (error as { retryAfterMs?: number }).retryAfterMs;
      const delayMs = backoffDelay(policy, attempt, retryAfter);
      policy.onRetry?.({
        url: what,
        method: '',
        attempt,
        delayMs,
        reason: error instanceof Error ? error.message : String(error),
      });
      await wait(delayMs);
    }
  }
}
