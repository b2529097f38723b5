/**
 * Follows redirects (blob GETs are commonly sent to object storage). `Authorization` is never carried
 * to another origin: the wrapper removes it, and the auth wrapper inside only signs requests for the
 * registry's own origin, so a redirected request reaches storage with only its pre-signed URL.
 */
import { redactUrl } from '../auth/redact.js';
import { RegistryError } from '../errors.js';
import { type HttpRequest, header, originOf, type Transport, withHeaders } from './types.js';

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

function redirectError(what: string, request: HttpRequest): RegistryError {
  return new RegistryError('REGISTRY_PROTOCOL', `${request.method} ${redactUrl(request.url)}: ${what}`, {
    hint: 'the registry (or a proxy in front of it) is misconfigured; report it to its operator',
  });
}

export function withRedirects(inner: Transport, maxRedirects = 10): Transport {
  return async (request) => {
    let current: HttpRequest = request;
    const seen = new Set<string>([request.url]);
    for (let hop = 0; ; hop++) {
      const response = await inner(current);
      const location = header(response, 'location');
      // 201/202 carry Location too; only 3xx are redirects.
      if (!REDIRECTS.has(response.status) || location === undefined) return response;
      await response.body.dump();
      let next: string;
      try {
        next = new URL(location, current.url).toString();
      } catch {
        throw redirectError(
          `a redirect to an invalid Location ${JSON.stringify(redactUrl(location))}`,
          request,
        );
      }
      if (seen.has(next)) {
        throw redirectError(`a redirect loop (back to ${redactUrl(next)})`, request);
      }
      if (hop >= maxRedirects) throw redirectError(`more than ${maxRedirects} redirects`, request);
      seen.add(next);
      const crossOrigin = originOf(next) !== originOf(current.url);
      // 303, and 301/302 for non-GET, turn into GET without a body (as browsers and Go do).
      const toGet =
        response.status === 303 ||
        ((response.status === 301 || response.status === 302) && current.method !== 'HEAD');
      current = {
        ...withHeaders(current, crossOrigin ? { authorization: undefined } : {}),
        url: next,
        ...(toGet ? { method: current.method === 'HEAD' ? 'HEAD' : 'GET', body: undefined } : {}),
      };
      if (toGet) current = withHeaders(current, { 'content-length': undefined, 'content-type': undefined });
    }
  };
}
