import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { DestinationStream } from 'pino';
import { parseManagerConfig } from '../../src/config/manager-config';
import { createManagerApp } from '../../src/manager.app';
import type { TestDatabase } from './test-database';

export const ADMIN = { username: 'admin', password: 'correct-horse-battery' };

export interface InProcessManager {
  app: NestFastifyApplication;
  /** Sends a request through Fastify's injector (no socket), with the admin session unless told otherwise. */
  request(method: string, url: string, body?: unknown, options?: { token?: string | null; headers?: Record<string, string>; rawBody?: string; remoteAddress?: string }): Promise<{ status: number; body: any; headers: Record<string, unknown> }>;
  close(): Promise<void>;
}

export async function startInProcessManager(database: TestDatabase, env: Record<string, string> = {}, options: { logDestination?: DestinationStream } = {}): Promise<InProcessManager> {
  const config = parseManagerConfig({
    DATABASE_URL: database.url,
    IDM_DATA_DIR: database.dataDir,
    IDM_ADMIN_USERNAME: ADMIN.username,
    IDM_ADMIN_PASSWORD: ADMIN.password,
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    LOG_LEVEL: 'silent',
    // Test upstreams listen on loopback, which the upstream policy refuses unless allowed.
    UPSTREAM_ALLOW: '127.0.0.1',
    ...env,
  });
  const app = await createManagerApp(config, options);
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  const fastify = app.getHttpAdapter().getInstance();
  const inject = async (method: string, url: string, body?: unknown, options: { token?: string | null; headers?: Record<string, string>; rawBody?: string; remoteAddress?: string } = {}) => {
    const res = await fastify.inject({
      method: method as never,
      url,
      ...(options.remoteAddress && { remoteAddress: options.remoteAddress }),
      headers: { ...(options.token ? { authorization: `Bearer ${options.token}` } : {}), ...(body !== undefined || options.rawBody !== undefined ? { 'content-type': 'application/json' } : {}), ...options.headers },
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
    close: () => app.close(),
  };
}
