import { DIGEST_REALM, type SecretBox } from '@idm/domain';
import { computeDigestHa1 } from '@idm/policies/schemas';

/**
 * Digest needs H(username:realm:password) at request time, and the Manager sees the password
 * only when it is set: the HA1 values for the installation realm are computed then and sealed,
 * so Gateways check Digest responses without the password (or an argon2 hash they cannot use).
 */
export function sealDigestHa1(secrets: SecretBox, username: string, password: string): string {
  return secrets.seal(JSON.stringify(computeDigestHa1(username, DIGEST_REALM, password)));
}
