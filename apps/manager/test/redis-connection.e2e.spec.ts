import { configChangedChannel, environmentConfigKeys } from '@idm/config-bus';
import Redis from 'ioredis';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { AdminClient } from './support/admin-client';
import { TestPki, type TestCertificate, AppProcess, eventually, freePort } from '@idm/test-kit';
import { UPSTREAM_OPT_IN } from './support/cluster';
import { createTestDatabase, type TestDatabase } from './support/test-database';

/**
 * Every Redis connection of both apps honours the whole REDIS_URL: TLS (`rediss://`), ACL user
 * and password, database index. The Redis here only speaks TLS, knows only the user `idm` (the
 * default user is off), and the URL selects database 3, so a connection that drops any of these
 * never gets a reply: the Manager would not become ready, nor the Gateway load its snapshot.
 */
describe('REDIS_URL with TLS, ACL user and database (built Manager and Gateway)', () => {
  const environment = `tls-${randomBytes(4).toString('hex')}`;
  const password = randomBytes(12).toString('hex');
  let pki: TestPki;
  let ca: TestCertificate;
  let redisServer: ChildProcess;
  let redisUrl: string;
  let database: TestDatabase;
  let manager: AppProcess;
  let gateway: AppProcess;
  let client: (db?: number) => Redis;

  beforeAll(async () => {
    pki = await TestPki.create();
    ca = await pki.issue('ca', { subject: '/CN=test-ca', ca: true });
    const server = await pki.issue('redis', { subject: '/CN=localhost', issuer: ca, altName: 'DNS:localhost' });
    const port = await freePort();
    // argv form of redis.conf lines: `user default off` and `user idm on >password ~* &* +@all`.
    redisServer = spawn(
      'redis-server',
      [
        '--port',
        '0',
        '--tls-port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--tls-cert-file',
        server.certFile,
        '--tls-key-file',
        server.keyFile,
        '--tls-ca-cert-file',
        ca.certFile,
        '--tls-auth-clients',
        'no',
        '--user',
        'default',
        'off',
        '--user',
        'idm',
        'on',
        `>${password}`,
        '~*',
        '&*',
        '+@all',
      ],
      { stdio: 'ignore' },
    );
    redisUrl = `rediss://idm:${password}@localhost:${port}/3`;
    client = (db = 3) =>
      new Redis({ host: 'localhost', port, username: 'idm', password, db, tls: { ca: ca.cert }, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 200 });
    await eventually(
      async () => {
        const c = client();
        try {
          await c.connect();
          return await c.ping();
        } finally {
          c.disconnect();
        }
      },
      (pong) => pong === 'PONG',
      { what: 'the TLS redis-server' },
    );

    database = await createTestDatabase('postgres');
    const managerPort = await freePort();
    const tlsEnv = { REDIS_URL: redisUrl, NODE_EXTRA_CA_CERTS: ca.certFile, LOG_LEVEL: 'warn' };
    manager = new AppProcess(
      'manager',
      'apps/manager/dist/main.js',
      { ...tlsEnv, MANAGER_PORT: String(managerPort), MANAGER_HOST: '127.0.0.1', DATABASE_URL: database.url!, IDM_ADMIN_PASSWORD: 'tls-admin-password', ...UPSTREAM_OPT_IN },
      `http://127.0.0.1:${managerPort}`,
    );
    const gatewayPort = await freePort();
    gateway = AppProcess.gateway(
      'gateway',
      { ...tlsEnv, GATEWAY_PORT: String(gatewayPort), GATEWAY_HOST: '127.0.0.1', GATEWAY_ENVIRONMENT: environment, CONFIG_POLL_INTERVAL_MS: '500', ...UPSTREAM_OPT_IN },
      `http://127.0.0.1:${gatewayPort}`,
    );
  }, 120_000);

  afterAll(async () => {
    await gateway?.stop();
    await manager?.stop();
    redisServer?.kill('SIGKILL'); // a private server: everything it held goes with it
    await database?.drop();
    await pki?.remove();
  }, 60_000);

  it('publishes over TLS as user idm into database 3, and the Gateway serves from there', async () => {
    await manager.start('/health/ready', 60_000);
    const subscriber = client();
    const messages: string[] = [];
    subscriber.on('message', (_channel, json: string) => messages.push(json));
    await subscriber.connect();
    await subscriber.subscribe(configChangedChannel(environment));
    try {
      const admin = new AdminClient(manager.baseUrl);
      await admin.login('admin', 'tls-admin-password');
      await admin.environments.create({ name: environment });
      const project = await admin.projects.create({ name: `proj-${environment}` });
      await admin.proxies.create(project.id, { name: 'p', basePath: `/${environment}`, upstreamUrl: 'http://127.0.0.1:9', environments: [environment] });

      await eventually(
        async () => messages.length,
        (n) => n > 0,
        { what: 'config.changed over the Manager bus client' },
      );
      const inDb3 = client(3);
      const inDb0 = client(0);
      try {
        expect(await inDb3.exists(environmentConfigKeys(environment).head)).toBe(1);
        expect(await inDb0.exists(environmentConfigKeys(environment).head)).toBe(0);
      } finally {
        inDb3.disconnect();
        inDb0.disconnect();
      }
      await gateway.start('/health/ready', 60_000);
      expect(await (await fetch(`${gateway.baseUrl}/health/ready`)).json()).toMatchObject({ status: 'ready', redis: 'ready' });
    } finally {
      subscriber.disconnect();
    }
  }, 180_000);
});
