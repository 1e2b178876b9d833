import type { IncomingMessage } from 'node:http';
import { Transform, type Readable } from 'node:stream';

export class RequestBodyTooLargeError extends Error {
  readonly code = 'IDM_BODY_TOO_LARGE';
  constructor(limit: number) {
    super(`The request body exceeds ${limit} bytes`);
  }
}

/**
 * The body goes upstream as a stream, unread by the Gateway. A declared length
 * is checked before anything is sent (see ProxyRequestHandler); a chunked body of unknown
 * length is counted while it flows and cut off at the limit. Only chunked bodies pay for this.
 */
export function limitChunkedBody(body: IncomingMessage, limit: number): Readable {
  let seen = 0;
  const counted = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      callback(seen > limit ? new RequestBodyTooLargeError(limit) : null, chunk);
    },
  });
  body.on('error', (err) => counted.destroy(err));
  return body.pipe(counted);
}
