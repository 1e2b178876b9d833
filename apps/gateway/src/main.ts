import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { LogController } from 'fastify';
import { RedisBusServer, restoreFastStringPrototype } from '@idm/config-bus';
import { requestIdOf } from '@idm/platform';
import { GatewayConfigError, parseGatewayConfig, type GatewayConfig } from './config/gateway-config';
import { subscribeToConfigChanges } from './config-sync/config-changed.subscription';
import { ConfigSync } from './config-sync/config-sync';
import { missingNodeFlags } from './config/node-flags';
import { GatewayModule } from './gateway.module';
import { GatewayHttpServer, leaveClientErrorsToServer } from './http/gateway-http-server';
import { createGatewayLogger } from './logging/gateway-logger';
import { NestPinoLogger } from './logging/nest-pino.logger';
import { ProxyRequestHandler } from './proxy/proxy-request.handler';
import { TokenHttpHandler } from './token-service/token-http.handler';

function loadConfig(): GatewayConfig {
  try {
    return parseGatewayConfig(process.env);
  } catch (err) {
    if (!(err instanceof GatewayConfigError)) throw err;
    process.stderr.write(JSON.stringify({ level: 60, service: 'idm-gateway', msg: err.message, problems: err.problems }) + '\n');
    process.exit(1);
  }
}

async function bootstrap(): Promise<void> {
  const config = loadConfig();
  const log = createGatewayLogger(config.logLevel);
  const missing = missingNodeFlags(process.execArgv);
  if (missing.length > 0) {
    log.warn(
      { missing },
      `started without ${missing.join(' ')}: proxy throughput can drop 10-20 % after the Gateway has been idle. Start it as \`node ${missing.join(' ')} apps/gateway/dist/main.js\` (see apps/gateway/src/config/node-flags.ts)`,
    );
  }
  const http = new GatewayHttpServer(config.tls, config.clientTimeouts);
  const adapter = new FastifyAdapter({
    loggerInstance: log,
    genReqId: requestIdOf,
    requestIdHeader: false,
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: config.trustProxy,
    serverFactory: http.serverFactory,
    clientErrorHandler: leaveClientErrorsToServer,
  });
  const app = await NestFactory.create<NestFastifyApplication>(GatewayModule.forRoot(config, log), adapter, { logger: new NestPinoLogger(log) });
  const bus = new RedisBusServer(config.redis);
  subscribeToConfigChanges(bus, config.environment, app.get(ConfigSync));
  app.connectMicroservice({ strategy: bus }, { inheritAppConfig: false });
  const proxy = app.get(ProxyRequestHandler);
  http.attach(proxy.handle, app.get(TokenHttpHandler).handle, proxy.handleExpectingContinue);
  await app.startAllMicroservices();
  // Everything is loaded now; ioredis left String.prototype slow (see the function).
  restoreFastStringPrototype();
  await app.listen({ port: config.port, host: config.host });
  const tlsPort = config.tls === null ? null : await http.listenTls(config.tls.port, config.host);
  log.info({ environment: config.environment, address: await app.getUrl(), ...(tlsPort === null ? {} : { tlsAddress: `https://${config.host}:${tlsPort}` }) }, 'gateway listening');

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    setTimeout(() => {
      log.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown timed out; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs).unref();
    // Nest closes the listening server (in-flight requests finish), the transport, then the
    // module's pools and Redis connection.
    Promise.all([http.closeTls(), app.close()]).then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

bootstrap().catch((err: unknown) => {
  process.stderr.write(
    JSON.stringify({ level: 60, service: 'idm-gateway', msg: 'gateway failed to start', err: { message: (err as Error)?.message, stack: (err as Error)?.stack } }) + '\n',
  );
  process.exit(1);
});
