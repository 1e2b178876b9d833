import type { FastifyInstance } from 'fastify';
import type { ProxyRequestHandler } from './proxy-request.handler';
import { writeProxyError } from './proxy-error.reply';

/**
 * The proxy catch-all as an encapsulated Fastify plugin: its "parse nothing" content-type rule
 * leaves the body as a stream for undici without changing how other routes parse theirs.
 */
export function proxyPlugin(handler: ProxyRequestHandler) {
  return async function proxyRoutes(instance: FastifyInstance): Promise<void> {
    instance.removeAllContentTypeParsers();
    instance.addContentTypeParser('*', (_request, _payload, done) => done(null));
    instance.setErrorHandler((err: { statusCode?: number }, request, reply) => {
      // Only framework errors (e.g. a malformed request) get here: the handler answers its own.
      const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
      request.log[status >= 500 ? 'error' : 'info']({ err }, 'proxy request failed before forwarding');
      reply.hijack();
      writeProxyError(reply.raw, request.id, status, status >= 500 ? 'internal_error' : 'bad_request', status >= 500 ? 'The gateway failed to process the request' : 'The request is malformed');
    });
    instance.all('/*', handler.handle);
  };
}
