import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** Client-chosen ids end up in our logs and upstream headers, so only a safe shape is kept. */
const WELL_FORMED = /^[A-Za-z0-9._:@-]{1,128}$/;

/**
 * The request id of every answer (Fastify's `genReqId` for Nest's endpoints; called directly by the
 * proxy and token handlers): the caller's X-Request-Id when well-formed, else a fresh UUID.
 */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && WELL_FORMED.test(given) ? given : randomUUID();
}
