import { Inject, Injectable } from '@nestjs/common';
import { SecretBox, UpstreamPolicy, type OidcSourceConfig } from '@idm/domain';
import { OidcIdpSource, upstreamGuard, type EndpointGuard } from '@idm/identity-sources';
import { MANAGER_CONFIG, type ManagerConfig } from '../config/manager-config';
import { ProblemError } from '../problems/problem.error';
import { IdentitySourceRepository, type IdentitySourceRow } from '../repositories/identity-source.repository';

/** A source name as it may appear in the SSO paths (the entity names' rule). */
const SOURCE_IN_PATH = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export interface UsableOidcSource {
  row: IdentitySourceRow;
  idp: OidcIdpSource;
}

/**
 * The `oidc` identity sources operators may sign in with: enabled, System-wide, with
 * `operatorLogin.enabled`. Each is an {@link OidcIdpSource} (openid-client through the shared
 * OpenIdProviderClient) held to the upstream address policy on every request to the IdP, kept
 * while the row is unchanged so the IdP's metadata is discovered once, not per login.
 */
@Injectable()
export class OidcOperatorSources {
  private readonly guard: EndpointGuard;
  private readonly clients = new Map<string, { updatedAt: number; idp: OidcIdpSource }>();

  constructor(
    @Inject(MANAGER_CONFIG) config: ManagerConfig,
    private readonly sources: IdentitySourceRepository,
    private readonly secrets: SecretBox,
  ) {
    this.guard = upstreamGuard(new UpstreamPolicy(config.upstreamPolicy));
  }

  /** What the sign-in screen offers: names only, nothing about the IdP's client. */
  async offered(): Promise<IdentitySourceRow[]> {
    return (await this.sources.operatorLoginSources()).filter((s) => s.type === 'oidc');
  }

  /** The source `name`, if operators may sign in with it now; else the reason as a problem. */
  async usable(name: string): Promise<UsableOidcSource> {
    const row = SOURCE_IN_PATH.test(name) ? await this.sources.findByName(name) : undefined;
    if (!row || row.type !== 'oidc' || row.projectId !== null)
      throw new ProblemError(404, 'sso_source_unknown', 'Unknown sign-in source', `there is no System OpenID Connect identity source named '${name}'`);
    if (!row.enabled) throw new ProblemError(403, 'sso_source_disabled', 'Sign-in source disabled', `the identity source '${name}' is disabled`);
    if (!row.operatorLogin?.enabled)
      throw new ProblemError(403, 'sso_operator_login_disabled', 'Not an operator sign-in source', `the identity source '${name}' does not let operators sign in to the Manager`);
    return { row, idp: this.clientOf(row) };
  }

  private clientOf(row: IdentitySourceRow): OidcIdpSource {
    const updatedAt = row.updatedAt.getTime();
    const kept = this.clients.get(row.id);
    if (kept && kept.updatedAt === updatedAt) return kept.idp;
    let secret: string | null;
    try {
      secret = row.secret === null ? null : this.secrets.open(row.secret);
    } catch {
      throw new ProblemError(
        503,
        'source_misconfigured',
        'The sign-in source is misconfigured',
        `the client secret of '${row.name}' cannot be opened with the Manager’s master keys`,
      );
    }
    const idp = new OidcIdpSource(row.config as OidcSourceConfig, secret, row.timeoutMs, this.guard);
    this.clients.set(row.id, { updatedAt, idp });
    return idp;
  }
}
