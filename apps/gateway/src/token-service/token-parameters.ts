import { OAuthError } from '@idm/tokens';
import type { IncomingMessage } from 'node:http';

/** Token requests are a handful of short parameters; anything near this size is not one. */
export const TOKEN_BODY_LIMIT = 64 * 1024;

const FORM = /^application\/x-www-form-urlencoded\b/i;

/**
 * Request parameters, each at most once (RFC 6749 §3.2): from the form body (POST) or the query
 * string (GET, where a client allows URL parameters). The body is read here, bounded, without
 * a framework's body parser: this is the token endpoint's hot path.
 */
export function queryParameters(url: string): URLSearchParams {
  const q = url.indexOf('?');
  return once(new URLSearchParams(q < 0 ? '' : url.slice(q + 1)));
}

export function formParameters(req: IncomingMessage): Promise<URLSearchParams> {
  if (!FORM.test(req.headers['content-type'] ?? '')) return Promise.reject(new OAuthError('invalid_request', 'the body must be application/x-www-form-urlencoded'));
  if (Number(req.headers['content-length'] ?? 0) > TOKEN_BODY_LIMIT) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= TOKEN_BODY_LIMIT) chunks.push(chunk);
      else {
        // Stop collecting; Node discards the rest once the answer is written.
        req.off('data', onData);
        reject(tooLarge());
      }
    };
    req.on('data', onData);
    req.once('end', () => {
      try {
        resolve(once(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))));
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
    req.once('error', () => reject(new OAuthError('invalid_request', 'the request body could not be read')));
  });
}

function once(params: URLSearchParams): URLSearchParams {
  const seen = new Set<string>();
  for (const name of params.keys()) {
    if (seen.has(name)) throw new OAuthError('invalid_request', `parameter ${name} is repeated`);
    seen.add(name);
  }
  return params;
}

function tooLarge(): OAuthError {
  return new OAuthError('invalid_request', `the request body exceeds ${TOKEN_BODY_LIMIT} bytes`, 413);
}
