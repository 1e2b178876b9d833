import type { FastifyInstance } from 'fastify';
import type { ControlHandler } from '../data-plane/data-plane-thread';

/**
 * Serves relayed requests with Nest's Fastify instance, in memory (Fastify's `inject`): the
 * control thread needs no socket of its own, the data plane owns the Gateway's ports.
 */
export function nestControlHandler(fastify: FastifyInstance): ControlHandler {
  return async (request) => {
    const res = await fastify.inject({
      method: request.method as 'GET',
      url: request.url,
      headers: request.headers,
      remoteAddress: request.remoteAddress,
      ...(request.body !== null && { payload: Buffer.from(request.body.buffer, request.body.byteOffset, request.body.byteLength) }),
    });
    return { status: res.statusCode, headers: res.headers, body: res.rawPayload };
  };
}
