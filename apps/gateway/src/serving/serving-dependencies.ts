import { closeRedis } from '@idm/config-bus';
import { SecretBox } from '@idm/domain';
import { DEVELOPMENT_MASTER_KEY } from '@idm/platform';
import { PasswordVerificationCache, RedisDigestNonceStore, RedisOidcSessionStore, type OidcSessionStore, type PolicyCompileDeps, type SenderConstraintStores } from '@idm/policies';
import { DpopNonces, DpopReplayCache } from '@idm/tokens';
import type Redis from 'ioredis';
import { hkdfSync } from 'node:crypto';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/gateway-config';

/** DI token of the process's ServingDependencies. */
export const SERVING_DEPENDENCIES = Symbol('ServingDependencies');

/**
 * What every serving revision is built with beyond its snapshot, created once per process so
 * the proxy path and the token service share them: one SecretBox (signing keys, proxy client
 * secrets, metadata, digest HA1), one password-verification cache (verified passwords stay
 * verified across revisions and between Basic auth and the password grant), Digest's nonce
 * key and store, DPoP's replay cache and nonces, and the oidc policy's session store.
 */
export interface ServingDependencies {
  secrets: SecretBox;
  passwordCache: PasswordVerificationCache;
  digest: NonNullable<PolicyCompileDeps['digest']>;
  /** DPoP: proof jti replay cache and server nonces, shared by the proxy path and the token endpoints (and by every Gateway). */
  senderConstraint: SenderConstraintStores;
  /** Sessions of the `oidc` policy (relying party): one store for every Gateway, so a session works on all and logout revokes it everywhere. */
  oidcSessions: OidcSessionStore;
  /** Releases what these hold beyond the callers' connections (the oidc sessions' invalidation subscriber). */
  close(): Promise<void>;
}

/**
 * How long an `oidc` session read from Redis answers the same session's requests from memory
 * (RedisOidcSessionStore). A logout, an expired or dropped session and a rewrite reach every
 * Gateway's memory by a Redis message at once; this bounds only what a message lost on a
 * connection not yet known dead could leave: a session ended elsewhere is honoured here at most
 * this long after. A second keeps a busy session's Redis reads at one a second per Gateway.
 */
export const OIDC_SESSION_CACHE_MS = 1_000;

/**
 * The Digest nonce key is derived alike by every Gateway of the installation (HKDF of the first
 * master key), nonce counts live in the shared Redis. While master keys are being rotated,
 * Gateways whose first key differs reject each other's nonces: the client is simply challenged
 * once more.
 */
/**
 * `redis`: the rate-limit connection (short command timeout: Digest nonce counts); `tokenRedis`:
 * the token service's (the DPoP replay cache is a token check like oauth2-auth's lookups, and
 * answers 503 when Redis does not answer within its timeout), and the oidc sessions (a session
 * lookup is on the request path like a token lookup: fail fast, 503).
 */
export function createServingDependencies(config: Pick<GatewayConfig, 'masterKeys' | 'environment'>, redis: Redis, log: Logger, tokenRedis: Redis = redis): ServingDependencies {
  let keys = config.masterKeys?.map((k) => ({ id: k.id, key: k.key })) ?? null;
  if (keys === null) {
    log.warn(
      "IDM_MASTER_KEYS is not set: signing keys and sealed secrets are opened with the INSECURE development master key. You MUST set IDM_MASTER_KEYS (the Manager's keys) in any real deployment.",
    );
    keys = [DEVELOPMENT_MASTER_KEY];
  }
  const nonceKey = Buffer.from(hkdfSync('sha256', keys[0].key, Buffer.alloc(0), 'idm digest nonce v1', 32));
  // Derived like the Digest key, under its own label: every Gateway accepts the DPoP nonces of the others.
  const dpopNonceKey = Buffer.from(hkdfSync('sha256', keys[0].key, Buffer.alloc(0), 'idm dpop nonce v1', 32));
  // A connection of its own: a subscribed connection sends no other command.
  const invalidations = tokenRedis.duplicate();
  const oidcSessions = new RedisOidcSessionStore(tokenRedis, `idm:oidc-rp:${config.environment}:`, { subscriber: invalidations, ttlMs: OIDC_SESSION_CACHE_MS });
  return {
    secrets: new SecretBox(keys),
    passwordCache: new PasswordVerificationCache(),
    digest: { nonceKey, nonceStore: new RedisDigestNonceStore(redis, `idm:digest-nc:${config.environment}:`) },
    senderConstraint: { replay: new DpopReplayCache(tokenRedis, `{idm:dpop:${config.environment}}`), nonces: new DpopNonces(dpopNonceKey) },
    oidcSessions,
    close: async () => {
      oidcSessions.close();
      await closeRedis(invalidations);
    },
  };
}
