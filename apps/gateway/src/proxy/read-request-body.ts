import type { IncomingMessage } from 'node:http';
import { RequestBodyTooLargeError } from './request-body-limit';

/**
 * The whole request body, for a proxy whose policies read it (JOSE signing, encryption,
 * validation of a body): read into memory up to the Gateway's body limit, declared or chunked.
 * null for a request without a body. Only such proxies pay for this; the others stream.
 */
export function readRequestBody(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  const length = req.headers['content-length'];
  if (req.headers['transfer-encoding'] === undefined && (length === undefined || length === '0')) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let seen = 0;
    req.on('data', (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new RequestBodyTooLargeError(limit));
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => resolve(seen === 0 ? null : Buffer.concat(chunks, seen)));
    req.once('error', reject);
  });
}
