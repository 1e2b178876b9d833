import type { SnapshotIdentitySource } from '@idm/config-bus';
import { identitySourceConfigSchema, type IdentitySourceDefinition } from '@idm/domain';
import type { FederatedPasswordSources } from '@idm/policies';
import type { SecretOpener } from '@idm/tokens';
import type { EndpointGuard, SourceUnavailableError } from '@idm/identity-sources';
import { IdentitySources, isExternalIdpType, type ExternalIdp, type FederatedLogin } from './identity-sources';

export interface GatewayIdentitySourcesOptions {
  /** Opens the sealed secrets; absent: a source with a secret cannot be used (source_misconfigured). */
  secrets?: SecretOpener | null;
  /** A source failed to answer (logged, rate-limited by the caller); never carries a password. */
  onFailure?: (source: string, err: SourceUnavailableError) => void;
  /** A published source this Gateway cannot use (config it cannot parse, a secret it cannot open). */
  onUnusable?: (source: string, reason: string) => void;
  /** The upstream address policy the sources' servers are held to before each connection (absent: none). */
  guard?: EndpointGuard;
}

/**
 * The environment's identity sources as the policies see them: published entries (by name, with
 * their scope) and one checker per usable, enabled source, kept across revisions until the
 * published list changes (connection pools and the verified cache survive other changes). A
 * source whose config or secret this Gateway cannot use stays known by name and answers
 * `source_misconfigured`; a disabled one is skipped (it verifies no one).
 */
export class GatewayIdentitySources implements FederatedPasswordSources {
  private readonly sources: IdentitySources;
  private published = new Map<string, SnapshotIdentitySource>();
  private publishedJson = '[]';

  constructor(private readonly options: GatewayIdentitySourcesOptions = {}) {
    this.sources = new IdentitySources(options.onFailure, options.guard ?? null);
  }

  /** Takes the published list (a no-op when unchanged) and returns the view the policies compile against. */
  directoryFor(list: readonly SnapshotIdentitySource[]): FederatedPasswordSources {
    const json = JSON.stringify(list);
    if (json !== this.publishedJson) {
      this.publishedJson = json;
      this.published = new Map(list.map((s) => [s.name, s]));
      void this.sources.load(list.filter((s) => s.enabled).flatMap((s) => this.definitionOf(s)));
    }
    return this;
  }

  scopeOf(name: string): string | null | undefined {
    return this.published.get(name)?.projectId;
  }

  typeOf(name: string): SnapshotIdentitySource['type'] | undefined {
    return this.published.get(name)?.type;
  }

  /** An enabled, usable `oidc` or `saml` source (the login page's "Sign in with"), with its scope; undefined otherwise. */
  externalIdp(name: string): (ExternalIdp & { projectId: string | null }) | undefined {
    const published = this.published.get(name);
    const loaded = published?.enabled && isExternalIdpType(published.type) ? this.sources.externalIdp(name) : undefined;
    return loaded && { ...loaded, projectId: published!.projectId };
  }

  /** The published source's id (what a provisioned end user is linked to), or undefined. */
  idOf(name: string): string | undefined {
    return this.published.get(name)?.id;
  }

  login(names: readonly string[], username: string, password: string): Promise<FederatedLogin> {
    const enabled = names.filter((n) => this.published.get(n)?.enabled !== false);
    return this.sources.login(enabled, username, password);
  }

  close(): Promise<void> {
    return this.sources.close();
  }

  private definitionOf(s: SnapshotIdentitySource): IdentitySourceDefinition[] {
    const config = identitySourceConfigSchema(s.type).safeParse(s.config);
    if (!config.success) {
      this.options.onUnusable?.(s.name, `its ${s.type} config is not one this Gateway understands`);
      return [];
    }
    let secret: string | null = null;
    // An oidc source's client secret may come from a project secret (its current version) instead of its own sealed one.
    const sealed = s.clientSecretRef ? currentVersionOf(s.clientSecretRef) : s.secret;
    if (sealed !== null) {
      try {
        if (!this.options.secrets) throw new Error('no master key');
        secret = s.clientSecretRef ? sharedSecretText(this.options.secrets.open(sealed)) : this.options.secrets.open(sealed);
      } catch {
        this.options.onUnusable?.(s.name, 'its secret cannot be opened with this Gateway’s master keys');
        return [];
      }
    }
    return [{ id: s.id, name: s.name, type: s.type, config: config.data, secret, roleMappings: s.roleMappings, timeoutMs: s.timeoutMs, cacheTtlSeconds: s.cacheTtlSeconds }];
  }
}

/** The version a client secret is sent as: the current one (not retiring), else the newest still published. */
function currentVersionOf(ref: NonNullable<SnapshotIdentitySource['clientSecretRef']>): string | null {
  const current = ref.versions.find((v) => v.retiresAt === null) ?? ref.versions[ref.versions.length - 1];
  return current?.sealed ?? null;
}

/** A shared-secret version is an oct JWK: its key bytes, as the text the IdP registered. */
function sharedSecretText(jwk: string): string {
  const k = (JSON.parse(jwk) as { k?: unknown }).k;
  if (typeof k !== 'string' || k.length === 0) throw new Error('not an oct JWK');
  return Buffer.from(k, 'base64url').toString('utf8');
}
