import 'reflect-metadata';
import { RedisBusServer } from '@idm/config-bus';
import { requestIdOf } from '@idm/platform';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { DestinationStream } from 'pino';
import { AppModule } from './app.module';
import { endEventStreamsOnClose } from './audit/server-sent-events';
import { installEarlyAuthentication } from './auth/early-authentication.hook';
import { OperatorAuthService } from './auth/operator-auth.service';
import { DEFAULT_CONSOLE_DIR, installConsole } from './console/console-assets';
import type { ManagerConfig } from './config/manager-config';
import { JsonLogger } from './observability/json-logger';
import { httpRequests } from './observability/metrics';
import { installFormBodyParser } from './problems/form-body.parser';
import { installJsonBodyParser } from './problems/json-body.parser';
import { installRouteBodyLimits } from './problems/route-body-limits';

/** Builds the Manager (not listening yet); used by main.ts and by in-process tests. */
export async function createManagerApp(config: ManagerConfig, options: { logDestination?: DestinationStream } = {}): Promise<NestFastifyApplication> {
  const logger = JsonLogger.create(config.LOG_LEVEL, options.logDestination);
  const adapter = new FastifyAdapter({
    loggerInstance: logger.pino,
    bodyLimit: config.MANAGER_BODY_LIMIT,
    trustProxy: config.MANAGER_TRUST_PROXY,
    requestIdHeader: false,
    genReqId: requestIdOf,
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forConfig(config), adapter, { logger, abortOnError: false, bodyParser: false });
  const fastify = app.getHttpAdapter().getInstance();
  installJsonBodyParser(fastify);
  installFormBodyParser(fastify);
  installRouteBodyLimits(fastify, config.MANAGER_BODY_LIMIT);
  // Before parsing: an anonymous request is a 401 whatever its body (the guard runs only after).
  installEarlyAuthentication(fastify, app.get(OperatorAuthService));
  endEventStreamsOnClose(fastify);
  await installConsole(fastify, config.MANAGER_CONSOLE_DIR ?? DEFAULT_CONSOLE_DIR);
  fastify.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  fastify.addHook('onResponse', async (request, reply) => {
    httpRequests.inc({ method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) });
  });
  // The bus side of the Manager: Gateways ask it for durable token copies (`tokens.lookup`).
  app.connectMicroservice({ strategy: new RedisBusServer(config.redis, 500) }, { inheritAppConfig: false });
  // After a signal's graceful close, exit (as the Gateway does) instead of re-raising the signal:
  // 'exit' listeners run, so buffered logs, --cpu-prof profiles and diagnostics are written.
  app.enableShutdownHooks([], { useProcessExit: true });
  return app;
}
