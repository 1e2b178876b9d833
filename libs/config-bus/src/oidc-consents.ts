import type Redis from 'ioredis';

/**
 * The consents end users gave OIDC clients at a Gateway's consent page: per environment, one Redis
 * hash per user (field: client id, value: the scopes agreed to, space-separated), in the OpenID
 * Provider's hash tag. The Gateway writes and revokes them (its `OidcStore`); the Manager's users
 * API lists and revokes them for an administrator. Runtime state: a lost hash only asks again.
 */
export const oidcConsentKey = (environment: string, credentialId: string): string => `{idm:oidc:${environment}}:consent:${credentialId}`;

export interface OidcConsent {
  environment: string;
  clientId: string;
  scopes: string[];
}

export class OidcConsents {
  constructor(private readonly redis: Redis) {}

  /** Every consent of the user, in each of the named environments. */
  async of(environments: string[], credentialId: string): Promise<OidcConsent[]> {
    const found: OidcConsent[] = [];
    for (const environment of environments) {
      const all = await this.redis.hgetall(oidcConsentKey(environment, credentialId));
      for (const [clientId, scopes] of Object.entries(all)) found.push({ environment, clientId, scopes: scopes.split(' ').filter(Boolean) });
    }
    return found;
  }

  /** The consents to one client of each of the users, in each named environment (a pipeline per environment: one hash slot each in a Cluster). */
  async toClient(environments: string[], credentialIds: string[], clientId: string): Promise<(OidcConsent & { credentialId: string })[]> {
    const found: (OidcConsent & { credentialId: string })[] = [];
    if (credentialIds.length === 0) return found;
    for (const environment of environments) {
      const pipeline = this.redis.pipeline();
      for (const credentialId of credentialIds) pipeline.hget(oidcConsentKey(environment, credentialId), clientId);
      const answers = (await pipeline.exec()) ?? [];
      credentialIds.forEach((credentialId, i) => {
        const [err, scopes] = answers[i] ?? [];
        if (err) throw err;
        if (typeof scopes === 'string') found.push({ environment, credentialId, clientId, scopes: scopes.split(' ').filter(Boolean) });
      });
    }
    return found;
  }

  /** Revokes the user's consent to one client in every named environment; the consents that were there. */
  async revoke(environments: string[], credentialId: string, clientId: string): Promise<OidcConsent[]> {
    const before = (await this.of(environments, credentialId)).filter((c) => c.clientId === clientId);
    for (const consent of before) await this.redis.hdel(oidcConsentKey(consent.environment, credentialId), clientId);
    return before;
  }

  /** A deleted user's consents go with it. */
  async forget(environments: string[], credentialId: string): Promise<void> {
    if (environments.length) await this.redis.del(...environments.map((e) => oidcConsentKey(e, credentialId)));
  }
}
