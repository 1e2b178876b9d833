import { cidr, endpointOf, parseMasterKeys, upstreamPolicySettings, UPSTREAM_POLICY_VARIABLES, type OwnEndpoint, type UpstreamPolicySettings } from '@idm/domain';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { createSecureContext } from 'node:tls';
import { z } from 'zod';
import { forwardedForSchema, tokenCorsSchema, type ForwardedFor, type TokenCors } from '@idm/policies';
import { redisNodesOf, redisTopologyEnv, redisTopologyOf, type BruteForceSettings, type RedisTopology } from '@idm/config-bus';
import type { BlockAlertSettings } from '../brute-force/block-alerts';

/**
 * Every setting of the Gateway, read from the environment once at boot. All defaults live here,
 * each with the reason it is what it is. A bad value stops the boot with a message that names
 * every offending variable, not just the first.
 */
const integer = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
/** `requests/seconds`, e.g. `20/60`: at most that many in any window of that length. */
const perWindow = z
  .string()
  .regex(/^\d{1,6}\/\d{1,6}$/, 'must be requests/seconds, e.g. 20/60')
  .transform((v) => {
    const [limit, seconds] = v.split('/').map(Number);
    return { limit, windowSeconds: seconds };
  })
  .refine((v) => v.limit >= 1 && v.windowSeconds >= 1 && v.windowSeconds <= 86_400, 'needs at least 1 request and a window of 1 s to 1 day');
const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

const envSchema = z.object({
  /** 8080 is the Manager's; the Gateway sits next to it. */
  GATEWAY_PORT: integer(0, 65535).default(8081),
  GATEWAY_HOST: z.string().min(1).default('0.0.0.0'),
  /** The environment whose snapshot this Gateway serves (one Gateway fleet per environment). */
  GATEWAY_ENVIRONMENT: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'must be an environment name (a-z, 0-9, ".", "_", "-")')
    .default('dev'),
  /**
   * Trust X-Forwarded-* from the client. Only behind a load balancer that sets them: otherwise a
   * client could forge its address and the protocol the upstream sees.
   */
  GATEWAY_TRUST_PROXY: bool.default(false),
  /**
   * Header that carries the client address through trusted proxies (usually x-forwarded-for);
   * unset: the socket's peer address is the client IP (what IP groups and geo rules see).
   */
  GATEWAY_CLIENT_IP_HEADER: z
    .string()
    .regex(/^[A-Za-z0-9-]+$/, 'must be a header name')
    .transform((h) => h.toLowerCase())
    .optional(),
  /**
   * Which entry of that header is the client: "last" = the nearest address not in
   * GATEWAY_TRUSTED_PROXIES (cannot be forged by the client); "first" = the leftmost entry
   * (only when every proxy in the chain is trusted to overwrite the header).
   */
  GATEWAY_CLIENT_IP_POSITION: z.enum(['first', 'last']).default('last'),
  /** Comma-separated addresses/CIDRs of proxies whose client IP header is believed; anyone else's is ignored. */
  GATEWAY_TRUSTED_PROXIES: z.string().default(''),
  /**
   * The public base URL clients reach this environment's Gateways at (e.g. https://api.example.com).
   * Token issuers are `<url>/credential` and `<url>/auth`: in discovery, in minted JWTs, and what
   * jwt-auth accepts. Unset: each request's own Host (X-Forwarded-Host/Proto only from a trusted
   * hop), so a fleet behind one name should set it.
   */
  GATEWAY_PUBLIC_URL: z
    .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
    // zod runs this check after a failed url() too, hence canParse.
    .refine((u) => {
      const url = URL.canParse(u) ? new URL(u) : null;
      return url === null || (!url.username && !url.password && !url.search && !url.hash);
    }, 'must be a base URL without credentials, query or fragment')
    .transform((u) => {
      const url = new URL(u);
      return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
    })
    .optional(),
  /** Redis for rate-limit counters (defaults to the installation's Redis: REDIS_URL, Sentinel or Cluster). */
  RATE_LIMIT_REDIS_URL: z.url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL' }).optional(),
  /** A rate-limit check slower than this counts as "Redis unavailable" (the rule's fail open/closed applies). */
  RATE_LIMIT_TIMEOUT_MS: integer(1, 60_000).default(250),
  /**
   * Dynamic client registration (`/credential/register`, RFC 7591/7592) per client address and
   * per initial access token, as `requests/seconds` (sliding windows shared by every Gateway).
   */
  DCR_RATE_LIMIT_PER_ADDRESS: perWindow.default({ limit: 20, windowSeconds: 60 }),
  DCR_RATE_LIMIT_PER_TOKEN: perWindow.default({ limit: 50, windowSeconds: 3600 }),
  /** Largest request body forwarded upstream, in bytes (10 MiB: generous for APIs, bounded for abuse). */
  GATEWAY_BODY_LIMIT: integer(0, 1024 ** 3).default(10 * 1024 * 1024),
  ...redisTopologyEnv,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** A healthy upstream accepts a connection in milliseconds; 5 s only fails the dead ones. */
  UPSTREAM_CONNECT_TIMEOUT_MS: integer(1, 600_000).default(5_000),
  /** Time to the response headers; slower upstreams are answered 504. */
  UPSTREAM_HEADERS_TIMEOUT_MS: integer(1, 3_600_000).default(30_000),
  /** Longest silence between two body chunks (not the whole body), either way. */
  UPSTREAM_BODY_TIMEOUT_MS: integer(1, 3_600_000).default(30_000),
  /** Idle keep-alive sockets to an upstream are closed after this (below typical server timeouts of 5 s+). */
  UPSTREAM_KEEP_ALIVE_TIMEOUT_MS: integer(1, 600_000).default(4_000),
  /**
   * Most connections this Gateway opens to one upstream origin; requests beyond wait in the pool's
   * queue. Bounds what one slow upstream (or one flood of stalled uploads) can tie up, here and there.
   */
  UPSTREAM_CONNECTIONS: integer(1, 65_535).default(256),
  /**
   * Time a client has to send the request head. Short: a healthy client sends it in one packet,
   * and slow heads (slowloris) are what hold connections open for nothing.
   */
  GATEWAY_HEADERS_TIMEOUT_MS: integer(1, 600_000).default(10_000),
  /**
   * Time a client has to send the whole request, head and body (proxy and token traffic); then 408.
   * Node's 5 minutes held a stalled upload and its upstream connection that long. 60 s carries the
   * 10 MiB body limit at about 1.4 Mbit/s; raise it with the limit or for slower clients.
   */
  GATEWAY_REQUEST_TIMEOUT_MS: integer(1, 3_600_000).default(60_000),
  /**
   * Longest silence within a request body; then 408. A body that stopped arriving is let go in
   * seconds, one that keeps moving gets the whole GATEWAY_REQUEST_TIMEOUT_MS.
   */
  GATEWAY_BODY_TIMEOUT_MS: integer(1, 3_600_000).default(10_000),
  /** Safety net behind pub/sub: how often the stored revision is compared with ours. */
  CONFIG_POLL_INTERVAL_MS: integer(100, 3_600_000).default(5_000),
  /**
   * How often this Gateway reports itself to the Manager (through Redis: revision served, ready,
   * requests per second). A report lives three intervals, so a Gateway that stopped without
   * saying so drops out of the Manager's list within 15 s by default.
   */
  GATEWAY_HEARTBEAT_INTERVAL_MS: integer(100, 600_000).default(5_000),
  /** Grace period for in-flight requests on SIGTERM before the process exits anyway. */
  SHUTDOWN_TIMEOUT_MS: integer(0, 600_000).default(10_000),
  /**
   * The Manager's master key(s) (`id:base64`, comma-separated), needed to open the environment's
   * sealed signing keys. Unset: the insecure development key, with a loud warning at boot.
   */
  IDM_MASTER_KEYS: z.string().optional(),
  /** How long a token lookup waits for the Manager's durable copy when Redis has lost a token. */
  TOKEN_LOOKUP_TIMEOUT_MS: integer(1, 60_000).default(1_000),
  /**
   * Brute-force detectors of this environment (every Gateway of the fleet gets the same values):
   * failed authentications (wrong passwords, client secrets, API keys; proxy policies and token
   * endpoints) counted in Redis per credential, per client address and per credential at one
   * address within the window. A subject that reaches its count is refused (429 + Retry-After) by
   * every Gateway for the lockout, which doubles on each repeat within the strike memory up to the
   * maximum. 0 turns a detector off.
   */
  BRUTE_FORCE_PER_CREDENTIAL: integer(0, 1_000_000).default(20),
  BRUTE_FORCE_PER_ADDRESS: integer(0, 1_000_000).default(100),
  BRUTE_FORCE_PER_CREDENTIAL_ADDRESS: integer(0, 1_000_000).default(10),
  BRUTE_FORCE_WINDOW_SECONDS: integer(1, 86_400).default(900),
  BRUTE_FORCE_LOCKOUT_SECONDS: integer(1, 86_400).default(900),
  BRUTE_FORCE_MAX_LOCKOUT_SECONDS: integer(1, 30 * 86_400).default(86_400),
  BRUTE_FORCE_STRIKE_MEMORY_SECONDS: integer(0, 30 * 86_400).default(86_400),
  /** Webhook told (POST, JSON) about every new block; unset: none. Tried BRUTE_FORCE_ALERT_ATTEMPTS times, the wait doubling from 1 s. */
  BRUTE_FORCE_ALERT_URL: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
  BRUTE_FORCE_ALERT_ATTEMPTS: integer(1, 20).default(5),
  /**
   * Require a server nonce in DPoP proofs at the token endpoints (RFC 9449 §8): a proof without
   * the current one is answered 400 `use_dpop_nonce` with a `DPoP-Nonce`, which clients such as
   * openid-client retry with. Off by default: proofs are then bounded by their iat window and the
   * shared jti replay cache alone.
   */
  TOKEN_DPOP_NONCE_REQUIRED: bool.default(false),
  /** "Sign in with <source>" starts per client address per minute, across all Gateways (0: no limit). */
  EXTERNAL_LOGIN_START_LIMIT: integer(0, 100_000).default(30),
  /**
   * CORS of the `/credential` token endpoints (the `/auth` ones take theirs from each proxy's
   * policy). Unset origins: no CORS headers, browsers on other origins cannot call them.
   * `*` allows any origin (never together with credentials).
   */
  TOKEN_CORS_ORIGINS: z.string().optional(),
  TOKEN_CORS_METHODS: z.string().optional(),
  TOKEN_CORS_HEADERS: z.string().optional(),
  TOKEN_CORS_CREDENTIALS: bool.default(false),
  TOKEN_CORS_MAX_AGE_SECONDS: integer(0, 86_400).default(600),
  /** Header naming the client address recorded for `/credential` tokens, and which end of its list is the client. */
  TOKEN_CLIENT_IP_HEADER: z.string().optional(),
  TOKEN_CLIENT_IP_ORDER: z.enum(['FIRST', 'LAST']).default('FIRST'),
  /**
   * Optional HTTPS listener (same host and dispatch as GATEWAY_PORT) that asks clients for a
   * certificate (mtls-auth). All three or none; certificate and key are PEM file paths.
   */
  GATEWAY_TLS_PORT: integer(0, 65535).optional(),
  GATEWAY_TLS_CERT: z.string().min(1).optional(),
  GATEWAY_TLS_KEY: z.string().min(1).optional(),
  /** This Gateway's name in auth records and logs. Unset: host name and process id (unique on one machine, stable for a pod's life). */
  GATEWAY_ID: z
    .string()
    .regex(/^[A-Za-z0-9._:-]{1,200}$/, 'must be 1-200 of A-Z a-z 0-9 . _ : -')
    .optional(),
  /** Send every authentication decision to the indexers (auth records). Off: no record is built at all. */
  AUTH_RECORDS: bool.default(true),
  /** Records the Redis queue may hold not yet indexed (all Gateways together); past it new records are dropped and counted. About 0.5 KB each in Redis: 250,000 is ~125 MB, minutes of an indexer outage at thousands of decisions a second. */
  AUTH_RECORDS_QUEUE_LIMIT: integer(1, 100_000_000).default(250_000),
  /** Records one Gateway holds in memory while Redis cannot take them; past it new ones are dropped and counted. */
  AUTH_RECORDS_BUFFER: integer(1, 10_000_000).default(20_000),
  /** How often buffered records are sent to Redis (batches of up to 500). */
  AUTH_RECORDS_FLUSH_MS: integer(5, 60_000).default(100),
  /**
   * The client's country on auth records, from the GeoIP database the geo credential rules use:
   * `auto` once this Gateway serves a geo rule (the database is open anyway), `on` always (opened
   * at boot, ~9 MB), `off` never.
   */
  AUTH_RECORDS_COUNTRY: z.enum(['auto', 'on', 'off']).default('auto'),
});

/** Every variable the Gateway reads: its README's configuration table is tested against this. */
export const GATEWAY_VARIABLES: readonly string[] = [...Object.keys(envSchema.shape), ...UPSTREAM_POLICY_VARIABLES];

/** At most `limit` requests in any `windowSeconds`. */
export interface RequestWindow {
  limit: number;
  windowSeconds: number;
}

export type GatewayConfig = Readonly<{
  port: number;
  host: string;
  environment: string;
  trustProxy: boolean;
  /** GATEWAY_PUBLIC_URL without a trailing slash; null: issuers follow each request's host. */
  publicUrl: string | null;
  bodyLimit: number;
  /** The installation's Redis (one server, Sentinel or Cluster). */
  redis: RedisTopology;
  clientIp: Readonly<{ header: string | null; position: 'first' | 'last'; trustedProxies: readonly string[] }>;
  rateLimit: Readonly<{ redis: RedisTopology; timeoutMs: number }>;
  logLevel: string;
  upstream: Readonly<{ connectTimeoutMs: number; headersTimeoutMs: number; bodyTimeoutMs: number; keepAliveTimeoutMs: number; connections: number }>;
  /** How long a client may take to send a request head and the whole request, and be silent within its body. */
  clientTimeouts: Readonly<{ headersTimeoutMs: number; requestTimeoutMs: number; bodyTimeoutMs: number }>;
  configPollIntervalMs: number;
  heartbeatIntervalMs: number;
  shutdownTimeoutMs: number;
  /** null: IDM_MASTER_KEYS unset (development key). */
  masterKeys: readonly Readonly<{ id: string; key: Buffer }>[] | null;
  tokenLookupTimeoutMs: number;
  /** DPoP proofs at the token endpoints must carry the server nonce. */
  tokenDpopNonceRequired: boolean;
  /** External-IdP login starts per client address per minute (0: unlimited). */
  externalLoginStartLimit: number;
  /** The environment's brute-force detectors and where their blocks are alerted. */
  bruteForce: Readonly<{ detectors: Readonly<BruteForceSettings>; alerts: Readonly<BlockAlertSettings> }>;
  /** CORS and client address rules of the `/credential` token endpoints. */
  tokenService: Readonly<{ cors: TokenCors; forwardedFor: ForwardedFor }>;
  /** Dynamic client registration requests per client address and per initial access token (sliding windows). */
  clientRegistrationLimits: Readonly<{ perAddress: RequestWindow; perToken: RequestWindow }>;
  /**
   * Which addresses proxies may connect to (UPSTREAM_ALLOW_INTERNAL, UPSTREAM_ALLOW, UPSTREAM_DENY,
   * the same variables and evaluator as the Manager's). This Gateway's listeners and Redis are
   * always refused; the Manager's listener and PostgreSQL are named in UPSTREAM_DENY.
   */
  upstreamPolicy: UpstreamPolicySettings;
  /** null: no HTTPS listener. `cert`/`key`: the PEM contents, read (and checked as a pair) at boot. */
  tls: Readonly<{ port: number; certFile: string; keyFile: string; cert: Buffer; key: Buffer }> | null;
  gatewayId: string;
  /** null: AUTH_RECORDS=false. */
  authRecords: Readonly<{ queueLimit: number; bufferLimit: number; flushIntervalMs: number }> | null;
  /** AUTH_RECORDS_COUNTRY. */
  authRecordCountry: 'auto' | 'on' | 'off';
}>;

export const GATEWAY_CONFIG = Symbol('GatewayConfig');

export class GatewayConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid Gateway configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'GatewayConfigError';
  }
}

export function parseGatewayConfig(env: NodeJS.ProcessEnv): GatewayConfig {
  // An empty variable means "unset" (a common result of templated manifests), not "invalid".
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) throw new GatewayConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  const e = parsed.data;
  const trustedProxies = e.GATEWAY_TRUSTED_PROXIES.split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  const badHops = trustedProxies.filter((t) => !cidr.safeParse(t).success);
  if (badHops.length) throw new GatewayConfigError([`GATEWAY_TRUSTED_PROXIES: not an address or CIDR: ${badHops.join(', ')}`]);
  let masterKeys: { id: string; key: Buffer }[] | null;
  try {
    masterKeys = e.IDM_MASTER_KEYS === undefined ? null : parseMasterKeys(e.IDM_MASTER_KEYS);
  } catch (err) {
    throw new GatewayConfigError([`IDM_MASTER_KEYS: ${(err as Error).message}`]);
  }
  const redis = redisTopologyOf(e);
  if (Array.isArray(redis)) throw new GatewayConfigError(redis);
  const tls = parseTls(e);
  const upstreamPolicy = parseUpstreamPolicy(e, redis, present);
  const tokenService = parseTokenService(e);
  return Object.freeze({
    port: e.GATEWAY_PORT,
    host: e.GATEWAY_HOST,
    environment: e.GATEWAY_ENVIRONMENT,
    trustProxy: e.GATEWAY_TRUST_PROXY,
    publicUrl: e.GATEWAY_PUBLIC_URL ?? null,
    bodyLimit: e.GATEWAY_BODY_LIMIT,
    redis: Object.freeze(redis),
    clientIp: Object.freeze({ header: e.GATEWAY_CLIENT_IP_HEADER ?? null, position: e.GATEWAY_CLIENT_IP_POSITION, trustedProxies: Object.freeze(trustedProxies) }),
    rateLimit: Object.freeze({ redis: e.RATE_LIMIT_REDIS_URL ? rateLimitRedis(e.RATE_LIMIT_REDIS_URL, redis) : redis, timeoutMs: e.RATE_LIMIT_TIMEOUT_MS }),
    logLevel: e.LOG_LEVEL,
    upstream: Object.freeze({
      connectTimeoutMs: e.UPSTREAM_CONNECT_TIMEOUT_MS,
      headersTimeoutMs: e.UPSTREAM_HEADERS_TIMEOUT_MS,
      bodyTimeoutMs: e.UPSTREAM_BODY_TIMEOUT_MS,
      keepAliveTimeoutMs: e.UPSTREAM_KEEP_ALIVE_TIMEOUT_MS,
      connections: e.UPSTREAM_CONNECTIONS,
    }),
    clientTimeouts: parseClientTimeouts(e),
    configPollIntervalMs: e.CONFIG_POLL_INTERVAL_MS,
    heartbeatIntervalMs: e.GATEWAY_HEARTBEAT_INTERVAL_MS,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    masterKeys,
    tokenLookupTimeoutMs: e.TOKEN_LOOKUP_TIMEOUT_MS,
    tokenDpopNonceRequired: e.TOKEN_DPOP_NONCE_REQUIRED,
    externalLoginStartLimit: e.EXTERNAL_LOGIN_START_LIMIT,
    bruteForce: parseBruteForce(e),
    tokenService,
    clientRegistrationLimits: Object.freeze({ perAddress: e.DCR_RATE_LIMIT_PER_ADDRESS, perToken: e.DCR_RATE_LIMIT_PER_TOKEN }),
    upstreamPolicy,
    tls,
    gatewayId: e.GATEWAY_ID ?? `${hostname()}:${process.pid}`,
    authRecordCountry: e.AUTH_RECORDS_COUNTRY,
    authRecords: e.AUTH_RECORDS ? Object.freeze({ queueLimit: e.AUTH_RECORDS_QUEUE_LIMIT, bufferLimit: e.AUTH_RECORDS_BUFFER, flushIntervalMs: e.AUTH_RECORDS_FLUSH_MS }) : null,
  });
}

function parseBruteForce(e: z.output<typeof envSchema>): GatewayConfig['bruteForce'] {
  if (e.BRUTE_FORCE_LOCKOUT_SECONDS > e.BRUTE_FORCE_MAX_LOCKOUT_SECONDS) {
    throw new GatewayConfigError([`BRUTE_FORCE_LOCKOUT_SECONDS: must not exceed BRUTE_FORCE_MAX_LOCKOUT_SECONDS (${e.BRUTE_FORCE_MAX_LOCKOUT_SECONDS})`]);
  }
  return Object.freeze({
    detectors: Object.freeze({
      perCredential: e.BRUTE_FORCE_PER_CREDENTIAL,
      perAddress: e.BRUTE_FORCE_PER_ADDRESS,
      perCredentialAddress: e.BRUTE_FORCE_PER_CREDENTIAL_ADDRESS,
      windowSeconds: e.BRUTE_FORCE_WINDOW_SECONDS,
      lockoutSeconds: e.BRUTE_FORCE_LOCKOUT_SECONDS,
      maxLockoutSeconds: e.BRUTE_FORCE_MAX_LOCKOUT_SECONDS,
      strikeMemorySeconds: e.BRUTE_FORCE_STRIKE_MEMORY_SECONDS,
    }),
    alerts: Object.freeze({ url: e.BRUTE_FORCE_ALERT_URL ?? null, attempts: e.BRUTE_FORCE_ALERT_ATTEMPTS, retryDelayMs: 1_000 }),
  });
}

function parseClientTimeouts(e: z.output<typeof envSchema>): GatewayConfig['clientTimeouts'] {
  // node:http refuses a head timeout longer than the whole request's.
  if (e.GATEWAY_HEADERS_TIMEOUT_MS > e.GATEWAY_REQUEST_TIMEOUT_MS) {
    throw new GatewayConfigError([`GATEWAY_HEADERS_TIMEOUT_MS: must not exceed GATEWAY_REQUEST_TIMEOUT_MS (${e.GATEWAY_REQUEST_TIMEOUT_MS})`]);
  }
  return Object.freeze({ headersTimeoutMs: e.GATEWAY_HEADERS_TIMEOUT_MS, requestTimeoutMs: e.GATEWAY_REQUEST_TIMEOUT_MS, bodyTimeoutMs: e.GATEWAY_BODY_TIMEOUT_MS });
}

function parseUpstreamPolicy(e: z.output<typeof envSchema>, redis: RedisTopology, env: NodeJS.ProcessEnv): UpstreamPolicySettings {
  const own: OwnEndpoint[] = [
    { what: "this Gateway's listener", host: e.GATEWAY_HOST, port: e.GATEWAY_PORT },
    ...(e.GATEWAY_TLS_PORT === undefined ? [] : [{ what: "this Gateway's TLS listener", host: e.GATEWAY_HOST, port: e.GATEWAY_TLS_PORT }]),
    ...redisNodesOf(redis).map((node) => ({ what: "the installation's Redis", ...node })),
    ...endpointOf('the rate-limit Redis', e.RATE_LIMIT_REDIS_URL, 6379),
  ];
  const { settings, problems } = upstreamPolicySettings(env, own);
  if (problems.length) throw new GatewayConfigError(problems);
  return Object.freeze(settings);
}

const list = (value: string | undefined) =>
  value === undefined
    ? undefined
    : value
        .split(',')
        .map((v) => v.trim())
        .filter(Boolean);

function parseTokenService(e: z.output<typeof envSchema>): GatewayConfig['tokenService'] {
  const cors = tokenCorsSchema.safeParse({
    origins: list(e.TOKEN_CORS_ORIGINS),
    methods: list(e.TOKEN_CORS_METHODS),
    headers: list(e.TOKEN_CORS_HEADERS),
    credentials: e.TOKEN_CORS_CREDENTIALS,
    maxAgeSeconds: e.TOKEN_CORS_MAX_AGE_SECONDS,
  });
  const forwardedFor = forwardedForSchema.safeParse({ header: e.TOKEN_CLIENT_IP_HEADER ?? null, order: e.TOKEN_CLIENT_IP_ORDER });
  const problems = [
    ...(cors.success ? [] : cors.error.issues.map((i) => `TOKEN_CORS_${String(i.path[0] ?? '').toUpperCase()}: ${i.message}`)),
    ...(forwardedFor.success ? [] : forwardedFor.error.issues.map((i) => `TOKEN_CLIENT_IP_HEADER: ${i.message}`)),
  ];
  if (problems.length) throw new GatewayConfigError(problems);
  return Object.freeze({ cors: cors.data!, forwardedFor: forwardedFor.data! });
}

const TLS_VARIABLES = ['GATEWAY_TLS_PORT', 'GATEWAY_TLS_CERT', 'GATEWAY_TLS_KEY'] as const;

function parseTls(e: z.output<typeof envSchema>): GatewayConfig['tls'] {
  const missing = TLS_VARIABLES.filter((name) => e[name] === undefined);
  if (missing.length === TLS_VARIABLES.length) return null;
  if (missing.length)
    throw new GatewayConfigError(
      missing.map(
        (name) => `${name}: required when ${TLS_VARIABLES.filter((n) => !missing.includes(n)).join(' and ')} ${missing.length === 2 ? 'is' : 'are'} set (all three or none)`,
      ),
    );
  const problems: string[] = [];
  const read = (name: 'GATEWAY_TLS_CERT' | 'GATEWAY_TLS_KEY'): Buffer | null => {
    try {
      return readFileSync(e[name]!);
    } catch (err) {
      problems.push(`${name}: cannot read ${e[name]}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      return null;
    }
  };
  const cert = read('GATEWAY_TLS_CERT');
  const key = read('GATEWAY_TLS_KEY');
  if (problems.length) throw new GatewayConfigError(problems);
  const check = (name: string, fn: () => unknown, what: string) => {
    try {
      fn();
    } catch (err) {
      problems.push(`${name}: ${what} (${(err as Error).message})`);
    }
  };
  check('GATEWAY_TLS_CERT', () => new X509Certificate(cert!), `${e.GATEWAY_TLS_CERT} is not a PEM certificate`);
  check('GATEWAY_TLS_KEY', () => createPrivateKey(key!), `${e.GATEWAY_TLS_KEY} is not an unencrypted PEM private key`);
  if (!problems.length) check('GATEWAY_TLS_KEY', () => createSecureContext({ cert: cert!, key: key! }), `${e.GATEWAY_TLS_KEY} does not match the certificate in GATEWAY_TLS_CERT`);
  if (problems.length) throw new GatewayConfigError(problems);
  return Object.freeze({ port: e.GATEWAY_TLS_PORT!, certFile: e.GATEWAY_TLS_CERT!, keyFile: e.GATEWAY_TLS_KEY!, cert: cert!, key: key! });
}

/**
 * A separate rate-limit Redis: with `rediss://` it trusts the same CA bundle and presents the same
 * client certificate as the installation's connections (its name is its own: no servername).
 */
function rateLimitRedis(url: string, installation: RedisTopology): RedisTopology {
  const { ca, cert, key } = installation.tls ?? {};
  const tls = Object.fromEntries(Object.entries({ ca, cert, key }).filter(([, value]) => value !== undefined));
  return { mode: 'single', url, ...(url.startsWith('rediss:') && { tls }) };
}
