import { endpointOf, parseMasterKeys, upstreamPolicySettings, UPSTREAM_POLICY_VARIABLES, type UpstreamPolicySettings } from '@idm/domain';
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { redisNodesOf, redisTopologyEnv, redisTopologyOf, type RedisTopology } from '@idm/config-bus';

/** `VAR=` is the same as leaving VAR unset (as the indexer reads it). */
const unsetWhenEmpty = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (v === '' ? undefined : v), schema);

/**
 * Every setting the Manager reads from its environment, parsed once at boot. Defaults suit a
 * laptop (`npm start`); production sets DATABASE_URL, REDIS_URL (or Sentinel/Cluster) and a real admin password.
 */
const managerConfigSchema = z.object({
  /** Port of the admin REST API. */
  MANAGER_PORT: z.coerce.number().int().min(1).max(65535).default(8080),
  MANAGER_HOST: z.string().default('0.0.0.0'),
  /** PostgreSQL server URL. Unset: embedded PGlite under IDM_DATA_DIR/pglite. */
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  IDM_DATA_DIR: z.string().default('./.data'),
  ...redisTopologyEnv,
  /** Bootstrap operator; the password is (re)hashed with argon2id at every boot. */
  IDM_ADMIN_USERNAME: z.string().min(1).max(128).default('admin'),
  IDM_ADMIN_PASSWORD: z.string().min(12, 'must be at least 12 characters'),
  /**
   * Master keys for secrets at rest (AES-256-GCM): `id:base64(32 bytes)[,id:key...]`, first one
   * encrypts. Unset: an insecure development key, announced loudly at boot.
   */
  IDM_MASTER_KEYS: z
    .string()
    .optional()
    .superRefine((value, ctx) => {
      if (value === undefined) return;
      try {
        parseMasterKeys(value);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
      }
    }),
  /** Lifetime of an operator's bearer session. */
  SESSION_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .max(30 * 24 * 3600)
    .default(8 * 3600),
  /** A rotated-in signing key is published this long before it signs (longer than config propagation). */
  SIGNING_KEY_ACTIVATION_DELAY_SECONDS: z.coerce.number().int().min(0).max(3600).default(30),
  /** How often the Manager looks for identity sources whose periodic sync is due (their own interval decides how often each runs). */
  IDENTITY_SOURCE_SYNC_CHECK_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
  /**
   * Which proxies in front may name the client in X-Forwarded-For (Fastify's `trustProxy`): unset
   * or `false` none (the socket peer is the client, what login and self-service throttling count
   * by), `true` any, a number that many hops, or a comma-separated list of addresses/CIDRs. Set it
   * behind a load balancer, or every client shares the balancer's address and its limits.
   */
  MANAGER_TRUST_PROXY: z
    .string()
    .regex(/^(true|false|\d{1,2}|[0-9A-Fa-f.:/]+(,\s*[0-9A-Fa-f.:/]+)*)$/, 'must be true, false, a hop count or a comma-separated list of addresses/CIDRs')
    .optional()
    .transform((v): boolean | number | string => (v === undefined || v === 'false' ? false : v === 'true' ? true : /^\d+$/.test(v) ? Number(v) : v)),
  /** The console's build served under /ui (default: this repository's apps/console/dist). */
  MANAGER_CONSOLE_DIR: z.string().min(1).optional(),
  /** Largest accepted request body in bytes (larger: 413 payload_too_large). */
  MANAGER_BODY_LIMIT: z.coerce
    .number()
    .int()
    .min(1024)
    .default(1024 * 1024),
  /**
   * argon2 work (logins, password changes, credential passwords) run at once; more wait in a queue
   * of MANAGER_PASSWORD_HASH_QUEUE, beyond it 503 `password_checks_busy`. Default: half the cores,
   * so the other half keeps answering the API and health checks during a burst of logins.
   */
  MANAGER_PASSWORD_HASH_CONCURRENCY: z.coerce
    .number()
    .int()
    .min(1)
    .max(64)
    .default(Math.max(1, Math.floor(availableParallelism() / 2))),
  MANAGER_PASSWORD_HASH_QUEUE: z.coerce.number().int().min(0).max(10000).default(16),
  /**
   * Where this Manager's auth record indexer runs: `auto` in this process when the database is
   * embedded PGlite (no other process can open it) and ELASTICSEARCH_URL is unset, `on` always
   * (into ELASTICSEARCH_URL or this Manager's database), `off` never (apps/indexer does it).
   */
  AUTH_RECORDS_INDEXER: z.enum(['auto', 'on', 'off']).default('auto'),
  /** Days of auth records kept by the in-process indexer (PostgreSQL partitions dropped, the ILM delete phase). */
  AUTH_RECORDS_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  /** Elasticsearch 8/9 holding the auth records (data stream `analytic-auth-record`): analytics read it. Unset: PostgreSQL. */
  ELASTICSEARCH_URL: unsetWhenEmpty(z.url({ protocol: /^https?$/ }).optional()),
  ELASTICSEARCH_API_KEY: unsetWhenEmpty(z.string().min(1).optional()),
  ELASTICSEARCH_USERNAME: unsetWhenEmpty(z.string().min(1).optional()),
  ELASTICSEARCH_PASSWORD: unsetWhenEmpty(z.string().min(1).optional()),
  /**
   * Where end users' mails go out (verification, password reset): `smtp://user:pass@host:587` or
   * `smtps://...`. Unset: those flows answer 503 `mail_not_configured` (self-registration too).
   */
  SMTP_URL: unsetWhenEmpty(z.url({ protocol: /^smtps?$/ }).optional()),
  /** The From address of those mails. */
  SMTP_FROM: z
    .string()
    .min(3)
    .max(254)
    .regex(/^[^\r\n]+$/, 'must be one line')
    .default('Identity Manager <no-reply@localhost>'),
  /**
   * The OpenID Provider's public base (the Gateway's `.../credential`, e.g.
   * `https://gw.example.com/credential`): mail links point at its `verify-email` and
   * `reset-password` pages. Configured here, never taken from a request (a poisoned Host header
   * must not make reset links point elsewhere). Unset: the mails answer 503 like SMTP_URL.
   */
  END_USER_PAGES_URL: unsetWhenEmpty(z.url({ protocol: /^https?$/ }).optional()),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** Every variable the Manager reads: its README's configuration table is tested against this. */
export const MANAGER_VARIABLES: readonly string[] = [...Object.keys(managerConfigSchema.shape), ...UPSTREAM_POLICY_VARIABLES];

export type ManagerConfig = z.infer<typeof managerConfigSchema> & {
  /**
   * Which upstreams a proxy may be saved with (UPSTREAM_ALLOW_INTERNAL, UPSTREAM_ALLOW,
   * UPSTREAM_DENY; see @idm/domain UpstreamPolicy). The Manager's listener, Redis and PostgreSQL
   * are always refused.
   */
  upstreamPolicy: UpstreamPolicySettings;
  /** The installation's Redis (one server, Sentinel or Cluster) for every connection. */
  redis: RedisTopology;
};
export const MANAGER_CONFIG = Symbol('MANAGER_CONFIG');

export class ConfigError extends Error {}

/** Fails with one message naming every bad variable, so a misconfigured boot is fixed in one go. */
export function parseManagerConfig(env: NodeJS.ProcessEnv): ManagerConfig {
  const result = managerConfigSchema.safeParse(env);
  const redis = result.success ? redisTopologyOf(result.data) : [];
  const upstream = result.success && !Array.isArray(redis) ? upstreamPolicySettings(env, ownEndpoints(result.data, redis)) : upstreamPolicySettings(env, []);
  if (result.success && !Array.isArray(redis) && !upstream.problems.length) return { ...result.data, redis, upstreamPolicy: upstream.settings };
  const problems = [...(result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)), ...(Array.isArray(redis) ? redis : []), ...upstream.problems];
  throw new ConfigError(`Invalid Manager configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
}

/** The installation's endpoints this Manager knows; no proxy may target them, whatever the policy says. */
function ownEndpoints(config: z.infer<typeof managerConfigSchema>, redis: RedisTopology) {
  return [
    { what: "the Manager's admin listener", host: config.MANAGER_HOST, port: config.MANAGER_PORT },
    ...redisNodesOf(redis).map((node) => ({ what: "the installation's Redis", ...node })),
    ...endpointOf("the installation's PostgreSQL", config.DATABASE_URL, 5432),
  ];
}
