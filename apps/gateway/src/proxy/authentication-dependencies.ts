import { SecretBox } from '@idm/domain';
import { RedisDigestNonceStore, type PolicyCompileDeps } from '@idm/policies';
import type Redis from 'ioredis';
import { createHash, hkdfSync } from 'node:crypto';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/gateway-config';

/** The Manager's development key (see its secrets module): same derivation, so dev setups interoperate. */
const DEV_MASTER_KEY = { id: 'dev', key: createHash('sha256').update('identity-manager insecure development master key').digest() };

type MasterKey = { id: string; key: Buffer };

/** `IDM_MASTER_KEYS`, or the development key with a loud warning. First key first. */
export function gatewayMasterKeys(config: Pick<GatewayConfig, 'masterKeys'>, log: Logger): MasterKey[] {
  if (config.masterKeys) return config.masterKeys.map((k) => ({ id: k.id, key: k.key }));
  log.warn('IDM_MASTER_KEYS is not set: sealed secrets and signing keys are opened with the INSECURE development master key. You MUST set IDM_MASTER_KEYS (the Manager\'s keys) in any real deployment.');
  return [DEV_MASTER_KEY];
}

export interface AuthenticationDependencies {
  secrets: SecretBox;
  digest: NonNullable<PolicyCompileDeps['digest']>;
}

/**
 * What authentication policies and the token service need beyond the snapshot: the master keys
 * to open sealed values (digest HA1, signing keys, secret metadata) and, for Digest, a nonce key
 * every Gateway of the installation derives alike (HKDF of the first master key) plus nonce
 * counts in the shared Redis. While master keys are being rotated, Gateways whose first key
 * differs reject each other's nonces: the client is simply challenged once more.
 */
export function createAuthenticationDependencies(keys: MasterKey[], environment: string, redis: Redis): AuthenticationDependencies {
  const nonceKey = Buffer.from(hkdfSync('sha256', keys[0].key, Buffer.alloc(0), 'idm digest nonce v1', 32));
  return {
    secrets: new SecretBox(keys),
    digest: { nonceKey, nonceStore: new RedisDigestNonceStore(redis, `idm:digest-nc:${environment}:`) },
  };
}
