import type { ApiopsBundle, PlannedChange } from '@idm/domain';
import { ProblemError, type FieldIssue } from '../problems/problem.error';
import type { KeyManagerRow } from '../repositories/key-manager.repository';
import { canonicalJson } from './canonical-json';
import type { CurrentProject } from './project-state.reader';

/** What decides whether a key manager can verify a client's JWT bearer assertions. */
interface AssertionIssuer {
  projectId: string | null;
  type: 'builtin' | 'external';
  tokenTypes: 'jwt' | 'opaque' | 'both';
}

/**
 * The key managers the bundle's token settings trust for the JWT bearer grant, checked at plan
 * time with the admin API's rules (422 `key_manager_not_usable`): stored ones (System or this
 * project's) and the bundle's own, which apply creates first. Applying re-checks each through the
 * token settings service, role lists included.
 */
export function checkTokenSettingsReferences(bundle: ApiopsBundle, current: CurrentProject, systemKeyManagers: readonly KeyManagerRow[]): void {
  const projectId = current.project?.id ?? null;
  const issuers = new Map<string, AssertionIssuer>();
  for (const row of [...systemKeyManagers, ...current.keyManagers]) issuers.set(row.name, { projectId: row.projectId, type: row.type, tokenTypes: row.settings.tokenTypes });
  for (const entry of bundle.keyManagers) issuers.set(entry.name, { projectId, type: entry.type, tokenTypes: entry.tokenTypes });
  const issues: FieldIssue[] = [];
  bundle.credentials.forEach((credential, i) =>
    credential.tokenSettings?.jwtBearer?.keyManagers.forEach((name) => {
      const path = `bundle.credentials.${i}.tokenSettings.jwtBearer.keyManagers`;
      const issuer = issuers.get(name);
      // Another project's key manager is not in the map: to this project it does not exist.
      if (issuer === undefined || (issuer.projectId !== null && issuer.projectId !== projectId))
        issues.push({ path, message: `no key manager ${name} (list it under keyManagers, or name a System one)` });
      else if (issuer.type === 'builtin') issues.push({ path, message: `key manager ${name} is our own token service: it signs no assertions` });
      else if (issuer.tokenTypes === 'opaque') issues.push({ path, message: `key manager ${name} accepts only opaque tokens: it cannot verify an assertion` });
    }),
  );
  if (issues.length)
    throw new ProblemError(422, 'key_manager_not_usable', 'A key manager named here cannot be used', issues.map((p) => `${p.path}: ${p.message}`).join('; '), issues);
}

/**
 * The token settings changes, one per credential whose bundle entry says something: settings
 * given and none stored (create), different (update, the differing top-level fields), null over
 * stored ones (delete). Left out: kept as they are. Compared parsed, so defaults count as written.
 */
export function planTokenSettings(bundle: ApiopsBundle, current: CurrentProject, plan: PlannedChange[]): void {
  const stored = new Map(current.credentials.map((c) => [c.username, c.tokenSettings]));
  for (const credential of bundle.credentials) {
    const desired = credential.tokenSettings;
    const before = stored.get(credential.username) ?? null;
    const name = credential.username;
    if (desired === undefined || (desired === null && before === null)) continue;
    if (desired === null) plan.push({ op: 'delete', kind: 'token_settings', name });
    else if (before === null) plan.push({ op: 'create', kind: 'token_settings', name });
    else {
      const keys = [...new Set([...Object.keys(before), ...Object.keys(desired)])].sort();
      const fields = keys.filter((k) => canonicalJson((before as Record<string, unknown>)[k] ?? null) !== canonicalJson((desired as Record<string, unknown>)[k] ?? null));
      if (fields.length) plan.push({ op: 'update', kind: 'token_settings', name, fields });
    }
  }
}
