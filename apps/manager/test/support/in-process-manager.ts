import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import Redis from 'ioredis';
import type { DestinationStream } from 'pino';
import { parseManagerConfig } from '../../src/config/manager-config';
import { Database } from '../../src/database/database';
import { environments } from '../../src/database/schema';
import { createManagerApp } from '../../src/manager.app';
import { removeEnvironmentKeys } from './redis-keys';
import type { TestDatabase } from './test-database';

export const ADMIN = { username: 'admin', password: 'correct-horse-battery' };

export interface InProcessManager {
  app: NestFastifyApplication;
  /** Sends a request through Fastify's injector (no socket), with the admin session unless told otherwise. */
  request(
    method: string,
    url: string,
    body?: unknown,
    options?: { token?: string | null; headers?: Record<string, string>; rawBody?: string; remoteAddress?: string },
  ): Promise<{ status: number; body: any; headers: Record<string, unknown> }>;
  /**
   * Stops the Manager and deletes the Redis keys of the environments its database holds (tests
   * share the developer's Redis); `keepPublishedConfig` leaves them for a Manager started next.
   */
  close(options?: { keepPublishedConfig?: boolean }): Promise<void>;
}

export async function startInProcessManager(
  database: TestDatabase,
  env: Record<string, string> = {},
  options: { logDestination?: DestinationStream } = {},
): Promise<InProcessManager> {
  const config = parseManagerConfig({
    DATABASE_URL: database.url,
    IDM_DATA_DIR: database.dataDir,
    IDM_ADMIN_USERNAME: ADMIN.username,
    IDM_ADMIN_PASSWORD: ADMIN.password,
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    LOG_LEVEL: 'silent',
    // Test upstreams listen on loopback, which the upstream policy refuses unless allowed.
    UPSTREAM_ALLOW: '127.0.0.1',
    // A PGlite Manager would index in-process (AUTH_RECORDS_INDEXER=auto) and take other specs' records off the shared Redis.
    AUTH_RECORDS_INDEXER: 'off',
    ...env,
  });
  const app = await createManagerApp(config, options);
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  const fastify = app.getHttpAdapter().getInstance();
  const inject = async (
    method: string,
    url: string,
    body?: unknown,
    options: { token?: string | null; headers?: Record<string, string>; rawBody?: string; remoteAddress?: string } = {},
  ) => {
    const res = await fastify.inject({
      method: method as never,
      url,
      ...(options.remoteAddress && { remoteAddress: options.remoteAddress }),
      headers: {
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...(body !== undefined || options.rawBody !== undefined ? { 'content-type': 'application/json' } : {}),
        ...options.headers,
      },
      payload: options.rawBody ?? (body === undefined ? undefined : JSON.stringify(body)),
    });
    const text = res.body;
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* non-JSON bodies (metrics) stay text */
    }
    return { status: res.statusCode, body: parsed as any, headers: res.headers as Record<string, unknown> };
  };
  const login = await inject('POST', '/api/v1/auth/login', ADMIN);
  if (login.status !== 200) throw new Error(`login failed: ${login.status} ${JSON.stringify(login.body)}`);
  const token = login.body.token as string;
  return {
    app,
    request: (method, url, body, options = {}) => inject(method, url, body, { ...options, token: options.token === null ? undefined : (options.token ?? token) }),
    close: async ({ keepPublishedConfig = false } = {}) => {
      const names = keepPublishedConfig ? [] : await environmentNames(app);
      await app.close();
      if (names.length === 0) return;
      const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 1 });
      try {
        await removeEnvironmentKeys(redis, ...names);
      } finally {
        redis.disconnect();
      }
    },
  };
}

/** Environment names of the Manager's database (read directly: the test may have revoked the admin session). */
async function environmentNames(app: NestFastifyApplication): Promise<string[]> {
  try {
    const rows = await app.get(Database).db.select({ name: environments.name }).from(environments);
    return rows.map((r) => r.name);
  } catch {
    return []; // the database went away first; nothing was published from it then either
  }
}
