import { Inject, Injectable } from '@nestjs/common';
import { SecretBox, UpstreamPolicy, type OidcSourceConfig, type SamlSourceConfig } from '@idm/domain';
import { OidcIdpSource, SamlIdpSource, upstreamGuard, type EndpointGuard } from '@idm/identity-sources';
import { MANAGER_CONFIG, type ManagerConfig } from '../config/manager-config';
import { ProblemError } from '../problems/problem.error';
import { IdentitySourceRepository, type IdentitySourceRow } from '../repositories/identity-source.repository';

/** A source name as it may appear in the SSO paths (the entity names' rule). */
const SOURCE_IN_PATH = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** The types of source an operator signs in with by a browser redirect (single sign-on), not a password. */
export type SsoSourceType = 'oidc' | 'saml';
const isSso = (row: IdentitySourceRow): row is IdentitySourceRow & { type: SsoSourceType } => row.type === 'oidc' || row.type === 'saml';

export type UsableSsoSource = { row: IdentitySourceRow; type: 'oidc'; idp: OidcIdpSource } | { row: IdentitySourceRow; type: 'saml'; idp: SamlIdpSource };

/**
 * The external identity sources operators may sign in with by single sign-on: `oidc` and `saml`
 * sources, enabled, System-wide, with `operatorLogin.enabled`. An `oidc` one is an
 * {@link OidcIdpSource} (openid-client through the shared OpenIdProviderClient) held to the
 * upstream address policy on every request to the IdP; a `saml` one a {@link SamlIdpSource}
 * (@node-saml/node-saml) that always wants the Assertion itself signed, whatever the source says
 * for end users — an operator's Assertion grants Manager roles. Each is kept while its row is
 * unchanged, so an IdP's metadata is discovered once, not per login.
 */
@Injectable()
export class ExternalOperatorSources {
  private readonly guard: EndpointGuard;
  private readonly clients = new Map<string, { updatedAt: number; source: UsableSsoSource }>();

  constructor(
    @Inject(MANAGER_CONFIG) config: ManagerConfig,
    private readonly sources: IdentitySourceRepository,
    private readonly secrets: SecretBox,
  ) {
    this.guard = upstreamGuard(new UpstreamPolicy(config.upstreamPolicy));
  }

  /** What the sign-in screen offers: names and types only, nothing about the IdP's client. */
  async offered(): Promise<(IdentitySourceRow & { type: SsoSourceType })[]> {
    return (await this.sources.operatorLoginSources()).filter(isSso);
  }

  /** The source `name`, if operators may sign in with it now; else the reason as a problem. */
  async usable(name: string): Promise<UsableSsoSource> {
    const row = SOURCE_IN_PATH.test(name) ? await this.sources.findByName(name) : undefined;
    if (!row || !isSso(row) || row.projectId !== null)
      throw new ProblemError(404, 'sso_source_unknown', 'Unknown sign-in source', `there is no System OpenID Connect or SAML identity source named '${name}'`);
    if (!row.enabled) throw new ProblemError(403, 'sso_source_disabled', 'Sign-in source disabled', `the identity source '${name}' is disabled`);
    if (!row.operatorLogin?.enabled)
      throw new ProblemError(403, 'sso_operator_login_disabled', 'Not an operator sign-in source', `the identity source '${name}' does not let operators sign in to the Manager`);
    return this.clientOf(row);
  }

  private clientOf(row: IdentitySourceRow & { type: SsoSourceType }): UsableSsoSource {
    const updatedAt = row.updatedAt.getTime();
    const kept = this.clients.get(row.id);
    if (kept && kept.updatedAt === updatedAt) return { ...kept.source, row };
    const secret = this.secretOf(row);
    const source: UsableSsoSource =
      row.type === 'saml'
        ? { row, type: 'saml', idp: new SamlIdpSource({ ...(row.config as SamlSourceConfig), wantAssertionsSigned: true }, secret) }
        : { row, type: 'oidc', idp: new OidcIdpSource(row.config as OidcSourceConfig, secret, row.timeoutMs, this.guard) };
    this.clients.set(row.id, { updatedAt, source });
    return source;
  }

  /** The OIDC client secret, or the SAML SP's AuthnRequest signing key. */
  private secretOf(row: IdentitySourceRow): string | null {
    try {
      return row.secret === null ? null : this.secrets.open(row.secret);
    } catch {
      throw new ProblemError(503, 'source_misconfigured', 'The sign-in source is misconfigured', `the secret of '${row.name}' cannot be opened with the Manager’s master keys`);
    }
  }
}
