import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis, { type RedisOptions } from 'ioredis';
import type { ConnectionOptions } from 'node:tls';
import { eventually, freePort, type TestCertificate, type TestPki } from '@idm/test-kit';

/**
 * Real Redis deployments for tests, from Debian's redis-server, on free loopback ports, in a
 * temporary directory removed at stop. `env` is what both apps are started with.
 */
export interface RedisTopologyUnderTest {
  env: Record<string, string>;
  /** The test's own client of the deployment (made on first use), closed by stop(). */
  client(): Redis;
  stop(): Promise<void>;
}

const NO_PERSISTENCE = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
/** Nothing listens on port 1: an app that ignored the deployment's variables for REDIS_URL would fail, not quietly use the shared Redis. */
const UNREACHABLE_REDIS_URL = 'redis://127.0.0.1:1';
/** The name in the servers' certificate; Sentinel and Cluster hand out 127.0.0.1, so clients verify against this name. */
const TLS_SERVERNAME = 'localhost';

/**
 * Certificates of a TLS deployment: every server and Sentinel listens only on TLS with `server`,
 * requires a client certificate signed by `ca`, and uses TLS between themselves (replication,
 * Sentinel to master, the Cluster bus). `client` is what the apps and the test present.
 */
export interface RedisTlsFixture {
  ca: TestCertificate;
  server: TestCertificate;
  client: TestCertificate;
}

export async function redisTlsFixture(pki: TestPki): Promise<RedisTlsFixture> {
  const ca = await pki.issue('redis-ca', { subject: '/CN=redis-test-ca', ca: true });
  return {
    ca,
    server: await pki.issue('redis-server', { subject: `/CN=${TLS_SERVERNAME}`, issuer: ca, altName: `DNS:${TLS_SERVERNAME}` }),
    client: await pki.issue('redis-client', { subject: '/CN=idm', issuer: ca }),
  };
}

/** What both apps are started with to reach the deployment over TLS (every TLS setting they have). */
export function redisTlsEnv(tls: RedisTlsFixture): Record<string, string> {
  return {
    REDIS_TLS: 'true',
    REDIS_TLS_CA_FILE: tls.ca.certFile,
    REDIS_TLS_CERT_FILE: tls.client.certFile,
    REDIS_TLS_KEY_FILE: tls.client.keyFile,
    REDIS_TLS_SERVERNAME: TLS_SERVERNAME,
  };
}

/** The server's TLS settings as redis.conf lines (`name value`); as arguments each becomes `--name value`. */
const tlsConfig = (tls: RedisTlsFixture, port: number): string[][] => [
  ['port', '0'],
  ['tls-port', String(port)],
  ['tls-cert-file', tls.server.certFile],
  ['tls-key-file', tls.server.keyFile],
  ['tls-ca-cert-file', tls.ca.certFile],
  ['tls-auth-clients', 'yes'],
  ['tls-replication', 'yes'],
];
const listenArgs = (port: number, tls?: RedisTlsFixture): string[] => (tls ? tlsConfig(tls, port).flatMap(([name, value]) => [`--${name}`, value]) : ['--port', String(port)]);

class Servers {
  readonly dir = mkdtempSync(join(tmpdir(), 'idm-redis-topology-'));
  private readonly children: ChildProcess[] = [];
  private readonly clients: Redis[] = [];
  /** The test's TLS client settings, when the deployment speaks TLS. */
  readonly tls?: ConnectionOptions;

  constructor(readonly fixture?: RedisTlsFixture) {
    if (fixture) this.tls = { ca: fixture.ca.cert, cert: fixture.client.cert, key: fixture.client.key, servername: TLS_SERVERNAME };
  }

  /** A client of one server (or Sentinel) of the deployment. */
  node(port: number, options: RedisOptions = {}): Redis {
    return this.track(new Redis({ port, host: '127.0.0.1', ...(this.tls && { tls: this.tls }), ...options }));
  }

  async start(args: string[], port: number): Promise<void> {
    this.children.push(spawn('redis-server', args, { cwd: this.dir, stdio: 'ignore' }));
    await eventually(
      () => this.node(port, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null }).ping(),
      (pong) => pong === 'PONG',
      { what: `redis-server on ${port}` },
    );
  }

  track<T extends Redis>(client: T): T {
    this.clients.push(client);
    return client;
  }

  async stop(): Promise<void> {
    for (const c of this.clients) c.disconnect();
    await Promise.all(
      this.children.map((child) =>
        child.exitCode !== null || child.signalCode !== null
          ? Promise.resolve()
          : new Promise<void>((resolve) => {
              child.once('exit', () => resolve());
              child.kill('SIGKILL');
            }),
      ),
    );
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Three masters without replicas, the 16384 slots split between them; with `tls`, TLS only (the Cluster bus too). */
export async function startRedisCluster(tls?: RedisTlsFixture): Promise<RedisTopologyUnderTest> {
  const servers = new Servers(tls);
  const ports = [await freePort(), await freePort(), await freePort()];
  try {
    for (const port of ports) {
      await servers.start(
        [
          ...listenArgs(port, tls),
          ...(tls ? ['--tls-cluster', 'yes'] : []),
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          `nodes-${port}.conf`,
          '--cluster-node-timeout',
          '2000',
          ...NO_PERSISTENCE,
        ],
        port,
      );
    }
    const nodes = ports.map((port) => servers.node(port));
    const share = Math.ceil(16384 / ports.length);
    for (const [i, node] of nodes.entries()) {
      await node.call('CLUSTER', 'ADDSLOTSRANGE', String(i * share), String(Math.min(16383, (i + 1) * share - 1)));
      if (i > 0) await node.call('CLUSTER', 'MEET', '127.0.0.1', String(ports[0]));
    }
    for (const node of nodes) {
      await eventually(
        () => node.call('CLUSTER', 'INFO') as Promise<string>,
        (info) => info.includes('cluster_state:ok') && info.includes(`cluster_known_nodes:${ports.length}`),
        { what: 'the cluster to form', timeoutMs: 30_000 },
      );
    }
  } catch (err) {
    await servers.stop();
    throw err;
  }
  let client: Redis | undefined;
  return {
    env: { REDIS_URL: UNREACHABLE_REDIS_URL, REDIS_CLUSTER_NODES: ports.map((p) => `127.0.0.1:${p}`).join(','), ...(tls && redisTlsEnv(tls)) },
    client: () =>
      (client ??= servers.track(
        new Redis.Cluster(
          ports.map((port) => ({ host: '127.0.0.1', port })),
          { redisOptions: { ...(servers.tls && { tls: servers.tls }) } },
        ) as unknown as Redis,
      )),
    stop: () => servers.stop(),
  };
}

export const SENTINEL_MASTER = 'idm';

export interface SentinelTopologyUnderTest extends RedisTopologyUnderTest {
  /** Promotes the replica (SENTINEL FAILOVER) and resolves once the Sentinels name it master. */
  failover(): Promise<void>;
}

/** A master, its replica and three Sentinels watching them (quorum 2); with `tls`, all of them TLS only. */
export async function startRedisSentinel(tls?: RedisTlsFixture): Promise<SentinelTopologyUnderTest> {
  const servers = new Servers(tls);
  const [masterPort, replicaPort] = [await freePort(), await freePort()];
  const sentinelPorts = [await freePort(), await freePort(), await freePort()];
  const sentinels = sentinelPorts.map((port) => ({ host: '127.0.0.1', port }));
  const masterOf = async (sentinel: Redis) => Number(((await sentinel.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_MASTER)) as string[] | null)?.[1]);
  try {
    await servers.start([...listenArgs(masterPort, tls), ...NO_PERSISTENCE], masterPort);
    await servers.start([...listenArgs(replicaPort, tls), '--replicaof', '127.0.0.1', String(masterPort), ...NO_PERSISTENCE], replicaPort);
    for (const port of sentinelPorts) {
      // A Sentinel rewrites its configuration file: each gets one of its own.
      const file = join(servers.dir, `sentinel-${port}.conf`);
      writeFileSync(
        file,
        [
          ...(tls ? tlsConfig(tls, port).map((line) => line.join(' ')) : [`port ${port}`]),
          'bind 127.0.0.1',
          `sentinel monitor ${SENTINEL_MASTER} 127.0.0.1 ${masterPort} 2`,
          `sentinel down-after-milliseconds ${SENTINEL_MASTER} 1000`,
          `sentinel failover-timeout ${SENTINEL_MASTER} 10000`,
          '',
        ].join('\n'),
      );
      await servers.start([file, '--sentinel'], port);
    }
    const replica = servers.node(replicaPort);
    await eventually(
      () => replica.info('replication'),
      (info) => info.includes('master_link_status:up'),
      { what: 'the replica to sync', timeoutMs: 30_000 },
    );
    for (const port of sentinelPorts) {
      const sentinel = servers.node(port);
      await eventually(
        () => sentinel.call('SENTINEL', 'REPLICAS', SENTINEL_MASTER) as Promise<string[][]>,
        (replicas) => replicas.length === 1 && replicas[0].join(' ').includes(String(replicaPort)),
        { what: `sentinel ${port} to know the replica`, timeoutMs: 30_000 },
      );
    }
  } catch (err) {
    await servers.stop();
    throw err;
  }
  const sentinel = servers.node(sentinelPorts[0]);
  let client: Redis | undefined;
  return {
    env: {
      REDIS_URL: UNREACHABLE_REDIS_URL,
      REDIS_SENTINELS: sentinelPorts.map((p) => `127.0.0.1:${p}`).join(','),
      REDIS_SENTINEL_MASTER: SENTINEL_MASTER,
      ...(tls && redisTlsEnv(tls)),
    },
    client: () =>
      (client ??= servers.track(
        new Redis({ sentinels, name: SENTINEL_MASTER, ...(servers.tls && { sentinelTLS: servers.tls, tls: servers.tls, enableTLSForSentinelMode: true }) }),
      )),
    async failover() {
      await sentinel.call('SENTINEL', 'FAILOVER', SENTINEL_MASTER);
      await eventually(
        () => masterOf(sentinel),
        (port) => port === replicaPort,
        { what: 'the Sentinels to promote the replica', timeoutMs: 30_000 },
      );
      const promoted = servers.node(replicaPort);
      await eventually(
        () => promoted.info('replication'),
        (info) => info.includes('role:master'),
        { what: 'the replica to become master', timeoutMs: 30_000 },
      );
    },
    stop: () => servers.stop(),
  };
}
