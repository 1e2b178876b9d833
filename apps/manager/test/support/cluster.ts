import { AppProcess, freePort, RedisProcess, startEchoServer } from '@idm/test-kit';
import { AdminClient } from './admin-client';
import { createTestDatabase, type TestDatabase } from './test-database';

export const CLUSTER_ADMIN_PASSWORD = 'e2e-admin-password';
/** The echo upstream listens on loopback, which the upstream policy refuses unless allowed. */
export const UPSTREAM_OPT_IN = { UPSTREAM_ALLOW: '127.0.0.1' };

/** One Manager and N Gateway processes (built dist) on a private redis-server and database. */
export interface Cluster {
  database: TestDatabase;
  /** The private redis-server; not started when `redisEnv` names another deployment. */
  redis: RedisProcess;
  echoUrl: string;
  manager: AppProcess;
  gateways: AppProcess[];
  admin: AdminClient;
  /** Starts the Manager again (after a test stopped it) and logs the admin in anew. */
  restartManager(): Promise<void>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  environment: string;
  /** More environments, created before the Gateways start (a Gateway's extra environment may name one in GATEWAY_ENVIRONMENT). */
  moreEnvironments?: string[];
  /**
   * Extra environment per Gateway; its length is the number of Gateways (default two). The
   * Gateways are one fleet behind the first one's URL (GATEWAY_PUBLIC_URL, the token issuer)
   * unless a Gateway's extra environment sets its own (empty: the request's Host).
   */
  gateways?: Record<string, string>[];
  managerEnv?: Record<string, string>;
  /** Redis variables of both apps (a Sentinel or Cluster deployment) instead of the private redis-server. */
  redisEnv?: Record<string, string>;
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const database = await createTestDatabase('postgres');
  const redis = new RedisProcess(await freePort());
  if (!options.redisEnv) await redis.start();
  const redisEnv = options.redisEnv ?? { REDIS_URL: redis.url };
  const echo = await startEchoServer();
  const managerPort = await freePort();
  const manager = new AppProcess(
    'manager',
    'apps/manager/dist/main.js',
    {
      MANAGER_PORT: String(managerPort),
      MANAGER_HOST: '127.0.0.1',
      DATABASE_URL: database.url!,
      ...redisEnv,
      IDM_ADMIN_PASSWORD: CLUSTER_ADMIN_PASSWORD,
      LOG_LEVEL: 'warn',
      ...UPSTREAM_OPT_IN,
      ...options.managerEnv,
    },
    `http://127.0.0.1:${managerPort}`,
  );
  const cluster: Cluster = {
    database,
    redis,
    echoUrl: echo.url,
    manager,
    gateways: [],
    admin: new AdminClient(manager.baseUrl),
    async restartManager() {
      await manager.start();
      cluster.admin = new AdminClient(manager.baseUrl);
      await cluster.admin.login('admin', CLUSTER_ADMIN_PASSWORD);
    },
    async stop() {
      await Promise.all([...cluster.gateways, manager].map((p) => p.stop()));
      await redis.stop();
      await echo.close();
      await database.drop();
    },
  };
  await cluster.restartManager();
  for (const name of [options.environment, ...(options.moreEnvironments ?? [])]) await cluster.admin.environments.create({ name });
  const perGateway = options.gateways ?? [{}, {}];
  const ports: number[] = [];
  for (let i = 0; i < perGateway.length; i++) ports.push(await freePort());
  for (const [i, extra] of perGateway.entries()) {
    const port = ports[i];
    cluster.gateways.push(
      AppProcess.gateway(
        `gateway-${String.fromCharCode(97 + i)}`,
        {
          GATEWAY_PORT: String(port),
          GATEWAY_HOST: '127.0.0.1',
          GATEWAY_ENVIRONMENT: options.environment,
          ...redisEnv,
          CONFIG_POLL_INTERVAL_MS: '1000',
          LOG_LEVEL: 'warn',
          ...UPSTREAM_OPT_IN,
          GATEWAY_PUBLIC_URL: `http://127.0.0.1:${ports[0]}`,
          ...extra,
        },
        `http://127.0.0.1:${port}`,
      ),
    );
  }
  await Promise.all(cluster.gateways.map((g) => g.start())).catch((err: Error) => {
    throw new Error(`${err.message}\nmanager output: ${manager.output.join('').slice(-3000)}`, { cause: err });
  });
  return cluster;
}
