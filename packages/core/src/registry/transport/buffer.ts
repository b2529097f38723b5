/**
 * Reads document bodies (manifests, tokens) whole, between the retry wrapper and the rest of the chain:
 * a body that stalls (the transport's idle timeout) or breaks throws here, inside the attempt, so it is
 * retried like a dropped connection. A success body is read up to the request's `buffer.limit` (a
 * `Content-Length` above it fails before reading); an error body only up to {@link ERROR_BODY_LIMIT}.
 */
import {
  abandon,
  bytesBody,
  ERROR_BODY_LIMIT,
  type HttpResponse,
  header,
  type Transport,
  tooLarge,
} from './types.js';

export function withBuffering(inner: Transport): Transport {
  return async (request) => {
    const response = await inner(request);
    const buffer = request.buffer;
    if (buffer === undefined || request.method === 'HEAD') return response;
    let bytes: Uint8Array;
    if (response.status >= 200 && response.status < 300) {
      const declared = Number(header(response, 'content-length'));
      if (declared > buffer.limit) {
        abandon(response.body.stream());
        throw tooLarge(buffer.what, buffer.limit);
      }
      bytes = await response.body.bytes(buffer.limit, buffer.what);
    } else {
      bytes = await response.body.head(ERROR_BODY_LIMIT);
    }
    const buffered: HttpResponse = { ...response, body: bytesBody(bytes) };
    return buffered;
  };
}
