import { SecretBox } from '@idm/domain';
import { DEVELOPMENT_MASTER_KEY } from '@idm/platform';
import { RedisDigestNonceStore, type PolicyCompileDeps } from '@idm/policies';
import type Redis from 'ioredis';
import { hkdfSync } from 'node:crypto';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/gateway-config';

export interface AuthenticationDependencies {
  secrets: NonNullable<PolicyCompileDeps['secrets']>;
  digest: NonNullable<PolicyCompileDeps['digest']>;
}

/**
 * What authentication policies need beyond the snapshot: the master key to open sealed values
 * (digest HA1) and, for Digest, a nonce key every Gateway of the installation derives alike
 * (HKDF of the first master key) plus nonce counts in the shared Redis. While master keys are
 * being rotated, Gateways whose first key differs reject each other's nonces: the client is
 * simply challenged once more.
 */
export function createAuthenticationDependencies(config: Pick<GatewayConfig, 'masterKeys' | 'environment'>, redis: Redis, log: Logger): AuthenticationDependencies {
  let keys = config.masterKeys?.map((k) => ({ id: k.id, key: k.key })) ?? null;
  if (keys === null) {
    log.warn('IDM_MASTER_KEYS is not set: sealed secrets are opened with the INSECURE development master key. You MUST set IDM_MASTER_KEYS in any real deployment.');
    keys = [DEVELOPMENT_MASTER_KEY];
  }
  const nonceKey = Buffer.from(hkdfSync('sha256', keys[0].key, Buffer.alloc(0), 'idm digest nonce v1', 32));
  return {
    secrets: new SecretBox(keys),
    digest: { nonceKey, nonceStore: new RedisDigestNonceStore(redis, `idm:digest-nc:${config.environment}:`) },
  };
}
