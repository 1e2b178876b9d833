import type { ChangeRecord } from '../audit/change-writer';

/**
 * What a set of committed changes may have altered in what Gateways see, named by id: the
 * publisher reads and compares only these, so a change costs in proportion to itself. `all`:
 * changes whose effect is not confined to named entities (a project deleted with everything in
 * it, re-sealed secrets, an environment created) — every environment is reconciled in full.
 */
export interface Touched {
  all: boolean;
  proxies: Set<string>;
  credentials: Set<string>;
  /** Environment ids whose signing keys changed. */
  signingKeys: Set<string>;
  /** A key manager changed: every environment's list is compared. */
  keyManagers: boolean;
  /** An identity source changed: every environment's list is compared. */
  identitySources: boolean;
}

/** Kinds no Gateway sees in its config: a change of these publishes nothing and bumps no revision (brute-force settings and the registration switch travel on their own channels). */
const INVISIBLE = new Set([
  'user',
  'group',
  'role',
  'role_binding',
  'session',
  'team',
  'login-lockout',
  'brute-force-block',
  'brute_force_settings',
  'initial_access_token',
  'client_registration_settings',
  'end_user_registration',
  'end_user_mail',
]);

export const touchEverything = (): Touched => ({ all: true, proxies: new Set(), credentials: new Set(), signingKeys: new Set(), keyManagers: false, identitySources: false });

export function touchedBy(changes: readonly ChangeRecord[]): Touched {
  const touched: Touched = { all: false, proxies: new Set(), credentials: new Set(), signingKeys: new Set(), keyManagers: false, identitySources: false };
  for (const change of changes) {
    const state = change.after ?? change.before ?? {};
    const id = change.entityId;
    switch (change.entityKind) {
      case 'api_proxy':
        if (id) touched.proxies.add(id);
        break;
      // An end user is a credential with a profile (same id).
      case 'credential':
      case 'credential_token_settings':
      case 'end_user':
        if (id) touched.credentials.add(id);
        // A bulk import names every credential it created: published like that many creates.
        for (const each of change.entityIds ?? []) touched.credentials.add(each);
        break;
      case 'api_key':
        if (typeof state.credentialId === 'string') touched.credentials.add(state.credentialId);
        break;
      case 'credential_request':
        // An approval (automatic or by an operator) issues a credential in the same change.
        if (typeof state.credentialId === 'string') touched.credentials.add(state.credentialId);
        break;
      case 'project_secret':
        // A rotation names the proxies whose policies refer to the secret (they carry it); other
        // changes of a secret alter nothing a Gateway holds (a referenced secret cannot be deleted).
        for (const each of change.entityIds ?? []) touched.proxies.add(each);
        // A key manager may take its client secret from it: the (short) list is compared, published if it changed.
        if (change.action === 'rotate') touched.keyManagers = true;
        // So may an oidc identity source (clientSecretId): that list is short too.
        if (change.action === 'rotate') touched.identitySources = true;
        break;
      case 'signing_key':
        if (typeof state.environmentId === 'string') touched.signingKeys.add(state.environmentId);
        break;
      case 'key_manager':
        touched.keyManagers = true;
        break;
      case 'identity_source':
        touched.identitySources = true;
        break;
      case 'project':
        // Renaming a project changes nothing a Gateway sees; deleting one removes its proxies and credentials (cascade).
        if (change.action !== 'update' && change.action !== 'create') touched.all = true;
        break;
      default:
        // Unknown kinds reconcile everything: a missed publication is worse than a slow one.
        if (!INVISIBLE.has(change.entityKind)) touched.all = true;
    }
  }
  return touched;
}

export const touchesNothing = (t: Touched): boolean =>
  !t.all && !t.keyManagers && !t.identitySources && t.proxies.size === 0 && t.credentials.size === 0 && t.signingKeys.size === 0;

export function mergeTouched(into: Touched, more: Touched): Touched {
  into.all ||= more.all;
  into.keyManagers ||= more.keyManagers;
  into.identitySources ||= more.identitySources;
  for (const id of more.proxies) into.proxies.add(id);
  for (const id of more.credentials) into.credentials.add(id);
  for (const id of more.signingKeys) into.signingKeys.add(id);
  return into;
}
