import { issuedLifetimeSeconds, tokenSettingsSchema } from '@idm/domain';
import { tokenServicePolicySchema } from '@idm/policies/schemas';
import { eq, inArray } from 'drizzle-orm';
import type { Tx } from '../database/database';
import { apiProxies, credentials, credentialTokenSettings, proxyDeployments } from '../database/schema';

type Reader = Pick<Tx, 'select'>;

/**
 * The longest lifetime of an access token the environment's Gateways can sign now: over the token
 * settings of every credential they serve (the projects with a proxy deployed there, as in the
 * snapshot) and of every deployed proxy's token-service policy. A key that stops signing must stay
 * published this long, or live tokens stop verifying. 0 when nothing there issues tokens.
 */
export async function longestAccessTokenSeconds(db: Reader, environmentId: string): Promise<number> {
  const deployed = await db
    .select({ projectId: apiProxies.projectId, policies: apiProxies.policies })
    .from(apiProxies)
    .innerJoin(proxyDeployments, eq(proxyDeployments.proxyId, apiProxies.id))
    .where(eq(proxyDeployments.environmentId, environmentId));
  const projectIds = [...new Set(deployed.map((p) => p.projectId))];
  const credentialSettings = projectIds.length
    ? await db
        .select({ settings: credentialTokenSettings.settings })
        .from(credentialTokenSettings)
        .innerJoin(credentials, eq(credentials.id, credentialTokenSettings.credentialId))
        .where(inArray(credentials.projectId, projectIds))
    : [];
  const policySettings = deployed.flatMap((p) => p.policies.map((spec) => spec.config?.tokenService).filter((block) => block !== undefined));
  // Settings a Gateway cannot parse issue no token (unauthorized_client), so they bound nothing.
  const lifetimes = [
    ...credentialSettings.map((c) => tokenSettingsSchema.safeParse(c.settings)),
    ...policySettings.map((block) => tokenServicePolicySchema.safeParse(block)),
  ];
  return lifetimes.reduce((longest, parsed) => (parsed.success ? Math.max(longest, issuedLifetimeSeconds(parsed.data.accessTokenLifetime)) : longest), 0);
}
