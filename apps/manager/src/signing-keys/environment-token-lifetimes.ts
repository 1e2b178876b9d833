import { Injectable } from '@nestjs/common';
import { issuedLifetimeSeconds, tokenSettingsSchema } from '@idm/domain';
import { tokenServicePolicySchema } from '@idm/policies/schemas';
import type { Reads } from '../database/database';
import { ApiProxyRepository } from '../repositories/api-proxy.repository';
import { CredentialRepository } from '../repositories/credential.repository';

/** What the environment's Gateways can sign now, for how long a replaced key must stay published. */
@Injectable()
export class EnvironmentTokenLifetimes {
  constructor(
    private readonly proxies: ApiProxyRepository,
    private readonly credentials: CredentialRepository,
  ) {}

  /**
   * The longest lifetime of an access token the environment's Gateways can sign now: over the token
   * settings of every credential they serve (the projects with a proxy deployed there, as in the
   * snapshot) and of every deployed proxy's token-service policy. A key that stops signing must stay
   * published this long, or live tokens stop verifying. 0 when nothing there issues tokens.
   */
  async longestAccessTokenSeconds(db: Reads, environmentId: string): Promise<number> {
    const deployed = await this.proxies.deployedIn(db, environmentId);
    const credentialSettings = await this.credentials.tokenSettingsInProjects(db, [...new Set(deployed.map((p) => p.projectId))]);
    const policySettings = deployed.flatMap((p) => p.policies.map((spec) => spec.config?.tokenService).filter((block) => block !== undefined));
    // Settings a Gateway cannot parse issue no token (unauthorized_client), so they bound nothing.
    const lifetimes = [
      ...credentialSettings.map((settings) => tokenSettingsSchema.safeParse(settings)),
      ...policySettings.map((block) => tokenServicePolicySchema.safeParse(block)),
    ];
    return lifetimes.reduce((longest, parsed) => (parsed.success ? Math.max(longest, issuedLifetimeSeconds(parsed.data.accessTokenLifetime)) : longest), 0);
  }
}
