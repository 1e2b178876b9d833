import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { Transport, type MicroserviceOptions } from '@nestjs/microservices';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { LogController } from 'fastify';
import { GatewayConfigError, parseGatewayConfig, type GatewayConfig } from './config/gateway-config';
import { redisTransportOptions } from './config-sync/config-redis';
import { DataPlaneThread } from './data-plane/data-plane-thread';
import { GatewayModule } from './gateway.module';
import { nestControlHandler } from './http/nest-control-handler';
import { createGatewayLogger } from './logging/gateway-logger';
import { NestPinoLogger } from './logging/nest-pino.logger';
import { requestIdOf } from './logging/request-id';

function loadConfig(): GatewayConfig {
  try {
    return parseGatewayConfig(process.env);
  } catch (err) {
    if (!(err instanceof GatewayConfigError)) throw err;
    process.stderr.write(JSON.stringify({ level: 60, service: 'idm-gateway', msg: err.message, problems: err.problems }) + '\n');
    process.exit(1);
  }
}

function fail(err: unknown): never {
  process.stderr.write(JSON.stringify({ level: 60, service: 'idm-gateway', msg: 'gateway failed', err: { message: (err as Error)?.message, stack: (err as Error)?.stack } }) + '\n');
  process.exit(1);
}

/**
 * Two threads: this one runs Nest (the config bus, health, metrics) and starts the data-plane
 * thread, which owns the listening sockets and serves all client traffic (see DataPlaneThread).
 */
async function bootstrap(): Promise<void> {
  const config = loadConfig();
  const log = createGatewayLogger(config.logLevel);
  // Started first: it boots while Nest does, and snapshots handed over early wait in its port.
  const dataPlane = new DataPlaneThread(fail);
  const adapter = new FastifyAdapter({
    loggerInstance: log,
    genReqId: requestIdOf,
    requestIdHeader: false,
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: config.trustProxy,
  });
  const app = await NestFactory.create<NestFastifyApplication>(GatewayModule.forRoot(config, log, dataPlane), adapter, { logger: new NestPinoLogger(log) });
  app.connectMicroservice<MicroserviceOptions>({ transport: Transport.REDIS, options: redisTransportOptions(config.redisUrl) }, { inheritAppConfig: false });
  await app.startAllMicroservices();
  await app.init();
  dataPlane.serveControl(nestControlHandler(app.getHttpAdapter().getInstance()));
  const { port, tlsPort } = await dataPlane.listening;
  log.info({ environment: config.environment, address: `http://${config.host}:${port}`, ...(tlsPort === null ? {} : { tlsAddress: `https://${config.host}:${tlsPort}` }) }, 'gateway listening');

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    setTimeout(() => {
      log.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown timed out; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs).unref();
    // The data plane first (listeners close, in-flight requests finish, its connections close),
    // then Nest: the transport, then the module's Redis connection.
    dataPlane
      .stop()
      .then(() => app.close())
      .then(
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

bootstrap().catch(fail);
