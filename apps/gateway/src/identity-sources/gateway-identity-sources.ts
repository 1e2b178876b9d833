import type { SnapshotIdentitySource } from '@idm/config-bus';
import { identitySourceConfigSchema, type IdentitySourceDefinition } from '@idm/domain';
import type { FederatedPasswordSources } from '@idm/policies';
import type { SecretOpener } from '@idm/tokens';
import type { EndpointGuard, SourceUnavailableError } from '@idm/identity-sources';
import { IdentitySources, type FederatedLogin } from './identity-sources';

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
    if (s.secret !== null) {
      try {
        if (!this.options.secrets) throw new Error('no master key');
        secret = this.options.secrets.open(s.secret);
      } catch {
        this.options.onUnusable?.(s.name, 'its secret cannot be opened with this Gateway’s master keys');
        return [];
      }
    }
    return [{ id: s.id, name: s.name, type: s.type, config: config.data, secret, roleMappings: s.roleMappings, timeoutMs: s.timeoutMs, cacheTtlSeconds: s.cacheTtlSeconds }];
  }
}
