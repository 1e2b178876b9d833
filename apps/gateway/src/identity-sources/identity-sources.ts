import type { IdentitySourceDefinition, OidcSourceConfig, SamlSourceConfig } from '@idm/domain';
import {
  checkerFor,
  GuardedChecker,
  OidcIdpSource,
  SamlIdpSource,
  SourceUnavailableError,
  type EndpointGuard,
  type IdentityChecker,
  type SourceFailureCode,
  type SourceIdentity,
} from '@idm/identity-sources';
import { VerifiedCache } from './verified-cache';

export type FederatedLogin =
  /** `cached`: the source's answer came from the verified cache (the directory was not asked this time). */
  | { outcome: 'verified'; source: string; identity: SourceIdentity; roles: string[]; cached: boolean }
  | { outcome: 'rejected' }
  /** No source said yes and at least one could not answer: the caller reports this code (503), never "allow". */
  | { outcome: 'unavailable'; code: SourceFailureCode; source: string };

interface LoadedSource {
  definition: IdentitySourceDefinition;
  checker: IdentityChecker;
}

/** An `oidc` or `saml` source: users sign in at the external IdP (the login page's button), never with a password here. */
export interface ExternalIdp {
  definition: IdentitySourceDefinition;
  idp: OidcIdpSource | SamlIdpSource;
}

/** The types whose users sign in at an external IdP rather than with a password checked here. */
export const isExternalIdpType = (type: string): boolean => type === 'oidc' || type === 'saml';

/**
 * The identity sources a Gateway knows, by name, and the ordered fallback a proxy asks for: each
 * source in turn until one verifies the password. A source that rejects or cannot answer passes
 * to the next; when none verified, an unanswered source makes the result `unavailable` (so a
 * directory outage reads as 503 with its code, not as a wrong password).
 */
export class IdentitySources {
  private sources = new Map<string, LoadedSource>();
  private idps = new Map<string, ExternalIdp>();
  private readonly cache = new VerifiedCache();

  /** `guard`: the upstream address policy each source's server is held to (absent: none, as in specs of the sources themselves). */
  constructor(
    private readonly onFailure: (source: string, err: SourceUnavailableError) => void = () => undefined,
    private readonly guard: EndpointGuard | null = null,
  ) {}

  /** Replaces the known sources (a new configuration); old connections are closed (in the background), the cache emptied. */
  load(definitions: readonly IdentitySourceDefinition[]): Promise<void> {
    const previous = this.sources;
    // An IdP's discovered metadata is kept while its definition is unchanged (a revision changing something else does not re-discover).
    const previousIdps = this.idps;
    this.idps = new Map(
      definitions
        .filter((d) => isExternalIdpType(d.type))
        .map((d) => {
          const kept = previousIdps.get(d.name);
          if (kept && JSON.stringify(kept.definition) === JSON.stringify(d)) return [d.name, kept];
          const idp =
            d.type === 'saml' ? new SamlIdpSource(d.config as SamlSourceConfig, d.secret) : new OidcIdpSource(d.config as OidcSourceConfig, d.secret, d.timeoutMs, this.guard);
          return [d.name, { definition: d, idp }];
        }),
    );
    this.sources = new Map(
      definitions
        .filter((d) => !isExternalIdpType(d.type))
        .map((d) => {
          const checker = checkerFor(d, this.guard);
          return [d.name, { definition: d, checker: this.guard ? new GuardedChecker(checker, d, this.guard) : checker }];
        }),
    );
    this.cache.clear();
    return Promise.all([...previous.values()].map((s) => s.checker.close())).then(() => undefined);
  }

  has(name: string): boolean {
    return this.sources.has(name) || this.idps.has(name);
  }

  /** The usable `oidc` source of that name, or undefined. */
  externalIdp(name: string): ExternalIdp | undefined {
    return this.idps.get(name);
  }

  async login(names: readonly string[], username: string, password: string): Promise<FederatedLogin> {
    let unavailable: { code: SourceFailureCode; source: string } | null = null;
    for (const name of names) {
      // An external IdP checks no password: it is never asked here (the login page's button is its way in).
      if (this.idps.has(name)) continue;
      const source = this.sources.get(name);
      if (!source) {
        unavailable ??= { code: 'source_misconfigured', source: name };
        continue;
      }
      const { definition, checker } = source;
      const key = VerifiedCache.key(definition.id, username, password);
      const cached = this.cache.get(key);
      if (cached) return verified(definition, cached, true);
      try {
        const answer = await checker.check(username, password);
        if (answer.outcome === 'verified') {
          this.cache.remember(key, answer.identity, definition.cacheTtlSeconds);
          return verified(definition, answer.identity, false);
        }
      } catch (err) {
        const failure = err instanceof SourceUnavailableError ? err : new SourceUnavailableError('source_unavailable', String(err));
        this.onFailure(name, failure);
        unavailable ??= { code: failure.code, source: name };
      }
    }
    return unavailable ? { outcome: 'unavailable', ...unavailable } : { outcome: 'rejected' };
  }

  async close(): Promise<void> {
    await this.load([]);
  }
}

/** Roles from the source's group -> role mapping (group names compared as the source spells them). */
function verified(d: IdentitySourceDefinition, identity: SourceIdentity, cached: boolean): FederatedLogin {
  const roles = [...new Set(identity.groups.flatMap((g) => d.roleMappings[g] ?? []))].sort();
  return { outcome: 'verified', source: d.name, identity, roles, cached };
}
