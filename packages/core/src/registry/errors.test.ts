import { describe, expect, it } from 'vitest';
import { errorFromResponse, isRetryable } from './errors.js';

const ctx = { registry: 'ghcr.io', repository: 'org/app', operation: 'push manifest 1.0' };

describe('errorFromResponse', () => {
  it('maps spec error codes and statuses to stable codes, naming registry, repository and operation', () => {
    const denied = errorFromResponse(
      403,
      '{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}',
      ctx,
    );
    expect(denied.code).toBe('REGISTRY_DENIED');
    expect(denied.message).toBe(
      'push manifest 1.0 on ghcr.io/org/app failed: HTTP 403 (DENIED: requested access to the resource is denied)',
    );
    expect(denied.retryable).toBe(false);
    expect(errorFromResponse(404, '{"errors":[{"code":"MANIFEST_UNKNOWN"}]}', ctx).code).toBe(
      'REGISTRY_NOT_FOUND',
    );
    expect(errorFromResponse(400, '{"errors":[{"code":"MANIFEST_BLOB_UNKNOWN"}]}', ctx).code).toBe(
      'REGISTRY_INVALID',
    );
    expect(errorFromResponse(404, '{"errors":[{"code":"BLOB_UPLOAD_INVALID"}]}', ctx).code).toBe(
      'REGISTRY_UPLOAD_LOST',
    );
    expect(errorFromResponse(401, '', ctx).hint).toContain('wharf login ghcr.io');
  });

  it('marks 429 and 5xx retryable', () => {
    const limited = errorFromResponse(429, '{"errors":[{"code":"TOOMANYREQUESTS"}]}', ctx, {
      retryAfterMs: 2000,
    });
    expect(limited.code).toBe('REGISTRY_RATE_LIMITED');
    expect(limited.retryable).toBe(true);
    expect(limited.retryAfterMs).toBe(2000);
    expect(isRetryable(errorFromResponse(503, '', ctx))).toBe(true);
    expect(isRetryable(errorFromResponse(501, '', ctx))).toBe(false);
    expect(isRetryable(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe(true);
  });
});

describe('printable', () => {
  it('keeps a registry message on one line, without terminal escapes, and short', () => {
    const body = JSON.stringify({
      errors: [
        { code: 'DENIED', message: `no\n\u001b[2J\u001b[31mFAKE: wharf: pushed ok\r\n${'x'.repeat(5000)}` },
      ],
    });
    const error = errorFromResponse(403, body, ctx);
    for (const c of ['\n', '\r', '\u001b']) expect(error.message).not.toContain(c);
    expect(error.message.length).toBeLessThan(500);
  });
});
