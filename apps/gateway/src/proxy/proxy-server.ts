import fastify, { LogController } from 'fastify';
import type { Logger } from 'pino';
import { lazyRequestLogger } from '../logging/lazy-request-logger';
import { requestIdOf } from '../logging/request-id';
import { proxyPlugin } from './proxy.plugin';
import type { ProxyRequestHandler } from './proxy-request.handler';

/**
 * The Fastify instance that carries proxy traffic: the catch-all plugin and nothing else, no
 * access log (rejections and upstream failures log themselves, with the request id), request
 * loggers created only when used. It never listens itself (see GatewayHttpServer).
 */
export async function createProxyServer(handler: ProxyRequestHandler, log: Logger, trustProxy: boolean) {
  const app = fastify({
    loggerInstance: log,
    genReqId: requestIdOf,
    requestIdHeader: false,
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: lazyRequestLogger,
    trustProxy,
  });
  await app.register(proxyPlugin(handler));
  await app.ready();
  return app;
}
