import type { Logger } from 'pino';
import type { EndUserLogin, EndUserPasswordValidator } from '../oidc/end-user-password-validator';
import { accountRefusal, isLoginAllowed } from '../oidc/end-user-password-validator';
import type { TokenClient, TokenClients } from '../serving/token-clients';
import type { SourceIdentity } from '@idm/identity-sources';
import type { EndUserProvisioner } from './end-user-provisioner';
import type { GatewayIdentitySources } from './gateway-identity-sources';
import { isExternalIdpType } from './identity-sources';

export interface FederatedValidatorOptions {
  environment: string;
  /** How long a freshly provisioned or refreshed user may take to reach this Gateway's configuration before the login reads as unavailable. */
  publicationWaitMs: number;
  pollMs?: number;
}

/**
 * End users from identity sources (LDAP, SQL) behind the login page and the password grant, as
 * Keycloak and WSO2 users expect: just-in-time provisioning. A client's token settings name the
 * sources (in order); for a username the project has no end user for, they are asked in turn, and
 * a verified directory user becomes an end user of the project linked to the source (the Manager
 * creates it over the bus and publishes it); each later login refreshes the email, name and roles
 * from the directory. Tokens and ID tokens then name that end user (`sub` = its credential id)
 * exactly as a local one, so consent, refresh, /userinfo and revocation need nothing new.
 *
 * Who checks which password: a local end user only against our store (a directory never takes
 * over a local account); a provisioned user only against its own source, and only when the
 * client lists that source; operators' changes (disable, lock) keep refusing.
 */
export class FederatedPasswordValidator implements EndUserPasswordValidator {
  constructor(
    private readonly local: EndUserPasswordValidator,
    private readonly clients: () => TokenClients | null,
    private readonly sources: GatewayIdentitySources,
    private readonly provisioner: EndUserProvisioner,
    private readonly log: Logger,
    private readonly options: FederatedValidatorOptions,
  ) {}

  async verify(projectId: string, username: string, password: string, now: number, sourceNames: readonly string[] = []): Promise<EndUserLogin> {
    if (sourceNames.length === 0) return this.local.verify(projectId, username, password, now);
    const known = this.clients()?.findOwner(projectId, username);
    const linkedTo = known?.credential.endUser?.identitySourceId ?? null;
    if (known && linkedTo === null) return this.local.verify(projectId, username, password, now);
    // Sources of another project are never asked (the Manager refuses them on save; a stale list fails closed here).
    let names = sourceNames.filter((n) => {
      const scope = this.sources.scopeOf(n);
      return scope === null || scope === projectId;
    });
    if (linkedTo !== null) names = names.filter((n) => this.sources.idOf(n) === linkedTo);
    if (names.length === 0) return { outcome: 'rejected' };
    // External IdPs check no password: a list of nothing else cannot verify one (a clear refusal, not a wrong password).
    if (names.every((n) => isExternalIdpType(this.sources.typeOf(n) ?? ''))) return { outcome: 'no_password_source' };
    const login = await this.sources.login(names, username, password);
    if (login.outcome === 'rejected') return { outcome: 'rejected' };
    if (login.outcome === 'unavailable') return { outcome: 'unavailable', code: login.code };
    // A verification from the cache brings nothing new from the directory: the user it provisioned
    // (linked to this source, with these roles) logs in without a round trip to the Manager. A
    // fresh check always provisions, so the cache TTL bounds how stale groups and profile may be.
    const provisioned = known && known.credential.username === login.identity.username && linkedTo === this.sources.idOf(login.source);
    if (login.cached && provisioned && sameRoles(known.credential.roles, login.roles)) {
      return isLoginAllowed(known, now) ? { outcome: 'verified', user: known } : { outcome: 'rejected', refused: accountRefusal(known) };
    }
    return this.link(projectId, login.source, login.identity, login.roles, now);
  }

  /**
   * A user a source vouched for (a verified password, or an external IdP's verified ID token),
   * made an end user of the project linked to the source, or refreshed: the same rules for both.
   * A local end user of that name is never taken over, nor one linked to another source.
   */
  async link(projectId: string, source: string, identity: SourceIdentity, roles: string[], now: number): Promise<EndUserLogin> {
    const sourceId = this.sources.idOf(source);
    if (sourceId === undefined) return { outcome: 'unavailable', code: 'source_misconfigured' };
    const known = this.clients()?.findOwner(projectId, identity.username);
    if (known && (known.credential.endUser?.identitySourceId ?? null) !== sourceId) {
      this.log.warn({ source }, 'an identity source vouched for a username the project already has (local or of another source): refused');
      return { outcome: 'rejected' };
    }
    const reply = await this.provisioner.provision({
      environment: this.options.environment,
      projectId,
      sourceId,
      username: identity.username,
      email: identity.email,
      displayName: identity.displayName,
      roles,
    });
    if (reply === 'unavailable') {
      this.log.warn({ source }, 'the Manager did not provision the end user an identity source verified; login refused as unavailable');
      return { outcome: 'unavailable', code: 'provisioning_unavailable' };
    }
    if (reply.outcome === 'refused') {
      this.log.warn({ source, reason: reply.reason }, 'the Manager refused to provision the end user an identity source verified');
      return { outcome: 'rejected' };
    }
    const user = await this.published(reply.credentialId, reply.roles);
    if (!user) {
      this.log.warn({ source }, 'a provisioned end user did not reach this gateway in time; login refused as unavailable');
      return { outcome: 'unavailable', code: 'provisioning_unavailable' };
    }
    return isLoginAllowed(user, now) ? { outcome: 'verified', user } : { outcome: 'rejected', refused: accountRefusal(user) };
  }

  /** The user as this Gateway's configuration holds it, once it carries the roles the Manager answered with (a refreshed login must not mint the old roles). */
  private async published(credentialId: string, roles: readonly string[]): Promise<TokenClient | null> {
    const wanted = [...roles].sort().join('\n');
    const deadline = Date.now() + this.options.publicationWaitMs;
    for (;;) {
      const user = this.clients()?.findById(credentialId);
      if (user && [...user.credential.roles].sort().join('\n') === wanted) return user;
      if (Date.now() >= deadline) return null;
      await new Promise((resolve) => setTimeout(resolve, this.options.pollMs ?? 25));
    }
  }
}

function sameRoles(a: readonly string[], b: readonly string[]): boolean {
  return [...a].sort().join('\n') === [...b].sort().join('\n');
}
