import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * Client-chosen ids end up in our logs and upstream headers, so only a safe shape is kept: no
 * white space, quotes, angle brackets or line breaks. `@` is allowed (`<uuid>@<host>` ids of
 * tracing tools); the Manager used to refuse it while the Gateway kept it, so one request showed
 * two ids across the planes.
 */
const WELL_FORMED = /^[A-Za-z0-9._:@-]{1,128}$/;

/**
 * The request id of every answer of both apps (Fastify's `genReqId`; called directly by the
 * Gateway's proxy and token handlers): the caller's X-Request-Id when well-formed, else a fresh UUID.
 */
export function requestIdOf(req: Pick<IncomingMessage, 'headers'>): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && WELL_FORMED.test(given) ? given : randomUUID();
}
