import { redisTopologyEnv, redisTopologyOf, type RedisTopology } from '@idm/config-bus';
import { hostname } from 'node:os';
import { z } from 'zod';

const integer = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/**
 * The indexer's settings, read once at boot; a bad value stops it with every problem named.
 * Any number of indexers may run: they share the stream's consumer group, each under its own name.
 */
const envSchema = z.object({
  ...redisTopologyEnv,
  /** Elasticsearch 8/9: records go to the data stream `analytic-auth-record`. Unset: PostgreSQL. */
  ELASTICSEARCH_URL: z.url({ protocol: /^https?$/ }).optional(),
  ELASTICSEARCH_API_KEY: z.string().min(1).optional(),
  ELASTICSEARCH_USERNAME: z.string().min(1).optional(),
  ELASTICSEARCH_PASSWORD: z.string().min(1).optional(),
  /** The PostgreSQL sink (the Manager's database, which reads the analytics from it). */
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  /** This indexer's name in the consumer group. Unset: host name and process id. */
  INDEXER_CONSUMER: z
    .string()
    .regex(/^[A-Za-z0-9._:-]{1,200}$/)
    .optional(),
  /** Stream entries (batches of up to 500 records) read at once. */
  INDEXER_READ_COUNT: integer(1, 1000).default(20),
  /**
   * Reads written at once, each acknowledged after its own commit: while PostgreSQL writes one,
   * the next is fetched and parsed (PostgreSQL: at most the pool's 4 connections are used).
   */
  INDEXER_IN_FLIGHT: integer(1, 16).default(3),
  /** An entry another indexer took and has not acknowledged for this long is taken over (that indexer died). */
  INDEXER_CLAIM_IDLE_MS: integer(100, 3_600_000).default(30_000),
  /** Days of records kept (PostgreSQL: daily partitions dropped; Elasticsearch: the ILM policy's delete phase). */
  AUTH_RECORDS_RETENTION_DAYS: integer(1, 3650).default(30),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type IndexerConfig = Readonly<{
  redis: RedisTopology;
  sink: Readonly<{ kind: 'elasticsearch'; url: string; apiKey?: string; username?: string; password?: string } | { kind: 'postgres'; url: string }>;
  consumer: string;
  readCount: number;
  inFlight: number;
  claimIdleMs: number;
  retentionDays: number;
  logLevel: string;
}>;

export class IndexerConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid indexer configuration:\n  ${problems.join('\n  ')}`);
  }
}

export function parseIndexerConfig(env: NodeJS.ProcessEnv): IndexerConfig {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) throw new IndexerConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  const e = parsed.data;
  const redis = redisTopologyOf(e);
  if (Array.isArray(redis)) throw new IndexerConfigError(redis);
  let sink: IndexerConfig['sink'];
  if (e.ELASTICSEARCH_URL !== undefined) {
    sink = { kind: 'elasticsearch', url: e.ELASTICSEARCH_URL, apiKey: e.ELASTICSEARCH_API_KEY, username: e.ELASTICSEARCH_USERNAME, password: e.ELASTICSEARCH_PASSWORD };
  } else if (e.DATABASE_URL !== undefined) {
    sink = { kind: 'postgres', url: e.DATABASE_URL };
  } else {
    throw new IndexerConfigError(['DATABASE_URL or ELASTICSEARCH_URL: one sink is required (PostgreSQL by default)']);
  }
  return Object.freeze({
    redis,
    sink: Object.freeze(sink),
    consumer: e.INDEXER_CONSUMER ?? `${hostname()}:${process.pid}`,
    readCount: e.INDEXER_READ_COUNT,
    inFlight: e.INDEXER_IN_FLIGHT,
    claimIdleMs: e.INDEXER_CLAIM_IDLE_MS,
    retentionDays: e.AUTH_RECORDS_RETENTION_DAYS,
    logLevel: e.LOG_LEVEL,
  });
}
