import type { AuthRecord } from '@idm/config-bus';
import type { AuthRecordFilter, ReadFilter } from '@idm/domain';

/**
 * What a reader may see of the auth records, resolved from PermissionService's read filter:
 * everything, whole projects (project grants), and — for team grants — the records of the team's
 * proxies and credentials (a record carries no team, so the team is found through them).
 */
export interface AuthRecordScope {
  all: boolean;
  projectIds: readonly string[];
  proxyIds: readonly string[];
  credentialIds: readonly string[];
}

/** The proxies and credentials of the given teams (each team inside its project). */
export type TeamResources = (teams: ReadFilter['teams']) => Promise<{ proxyIds: string[]; credentialIds: string[] }>;

export async function authRecordScope(read: ReadFilter, teamResources: TeamResources): Promise<AuthRecordScope> {
  const team = read.all || read.teams.length === 0 ? { proxyIds: [], credentialIds: [] } : await teamResources(read.teams);
  return { all: read.all, projectIds: read.projectIds, ...team };
}

/** The tail's counterpart of the repository's WHERE: the reader's scope, then the query's filters. */
export function recordFilter(scope: AuthRecordScope, filter: AuthRecordFilter): (r: AuthRecord) => boolean {
  const projects = new Set(scope.projectIds);
  const proxies = new Set(scope.proxyIds);
  const credentials = new Set(scope.credentialIds);
  const visible = (r: AuthRecord) =>
    scope.all ||
    (r.projectId !== null && projects.has(r.projectId)) ||
    (r.proxyId !== null && proxies.has(r.proxyId)) ||
    (r.credentialId !== null && credentials.has(r.credentialId));
  return (r) =>
    visible(r) &&
    (filter.environment === undefined || r.environment === filter.environment) &&
    (filter.projectId === undefined || r.projectId === filter.projectId) &&
    (filter.proxyId === undefined || r.proxyId === filter.proxyId) &&
    (filter.credentialId === undefined || r.credentialId === filter.credentialId) &&
    (filter.policy === undefined || r.policy === filter.policy) &&
    (filter.clientId === undefined || (r.clientId ?? null) === filter.clientId) &&
    (filter.outcome === undefined || r.outcome === filter.outcome);
}
