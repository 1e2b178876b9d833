import type { ConfigSnapshot, SnapshotCredential } from '@idm/config-bus';
import { CredentialRules, type CredentialRulesDeps } from './credential-rules/credential-rules';
import type { DirectoryCredential } from './policy';

export interface DirectoryApiKey {
  readonly id: string;
  readonly prefix: string;
  readonly expiresAt: number | null;
  readonly credential: DirectoryCredential;
}

/**
 * The credentials of one snapshot revision, indexed for the request path. Built once per
 * revision so a request does a map lookup and compares numbers: expiry dates are parsed here,
 * never per request.
 */
export class CredentialDirectory {
  private readonly byApiKeyHash = new Map<string, DirectoryApiKey>();
  private readonly byProjectUsername = new Map<string, DirectoryCredential>();
  private readonly byId = new Map<string, DirectoryCredential>();

  constructor(credentials: readonly SnapshotCredential[], rulesDeps: CredentialRulesDeps = { rateLimitStore: null, onRateLimitStoreError: () => {} }) {
    for (const c of credentials) {
      const credential: DirectoryCredential = Object.freeze({
        id: c.id,
        projectId: c.projectId,
        username: c.username,
        passwordHash: c.passwordHash,
        enabled: c.enabled,
        expiresAt: parseExpiry(c.expiresAt),
        rules: CredentialRules.compile(c.id, c.access ?? {}, rulesDeps),
        digestHa1: c.digestHa1 ?? null,
        truststore: Object.freeze([...(c.truststore ?? [])]),
        roles: Object.freeze([...(c.roles ?? [])]),
      });
      this.byId.set(c.id, credential);
      this.byProjectUsername.set(projectUsernameKey(c.projectId, c.username), credential);
      for (const k of c.apiKeys) {
        this.byApiKeyHash.set(k.hash, Object.freeze({ id: k.id, prefix: k.prefix, expiresAt: parseExpiry(k.expiresAt), credential }));
      }
    }
  }

  static fromSnapshot(snapshot: Pick<ConfigSnapshot, 'credentials'>, rulesDeps?: CredentialRulesDeps): CredentialDirectory {
    return new CredentialDirectory(snapshot.credentials, rulesDeps);
  }

  /** `hash` is the SHA-256 hex of the presented key (see `hashApiKey`). */
  findApiKey(hash: string): DirectoryApiKey | undefined {
    return this.byApiKeyHash.get(hash);
  }

  findCredential(projectId: string, username: string): DirectoryCredential | undefined {
    return this.byProjectUsername.get(projectUsernameKey(projectId, username));
  }

  /** Bearer tokens name their credential by id; a deleted credential is simply absent. */
  findById(credentialId: string): DirectoryCredential | undefined {
    return this.byId.get(credentialId);
  }
}

// NUL cannot occur in either part, so the joined key is unambiguous.
const projectUsernameKey = (projectId: string, username: string) => `${projectId}\u0000${username}`;

function parseExpiry(value: string | null): number | null {
  if (value === null) return null;
  const ms = Date.parse(value);
  // An unparseable date must not mean "never expires": treat it as already expired.
  return Number.isNaN(ms) ? 0 : ms;
}

/** Shared by the authentication policies so their verdicts and reasons never drift apart. */
export type CredentialState = 'ok' | 'credential_disabled' | 'credential_expired';

export function credentialState(credential: DirectoryCredential, now: number): CredentialState {
  if (!credential.enabled) return 'credential_disabled';
  if (credential.expiresAt !== null && credential.expiresAt <= now) return 'credential_expired';
  return 'ok';
}
