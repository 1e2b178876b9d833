import type { IdentitySource } from '@idm/domain';
import type { IdentitySourceRow } from '../repositories/identity-source.repository';

/** The API's view of a row: the secret only as "set or not". */
export function identitySourceView(r: IdentitySourceRow): IdentitySource {
  return {
    id: r.id,
    name: r.name,
    description: r.description,
    type: r.type,
    projectId: r.projectId,
    config: r.config,
    hasSecret: r.secret !== null,
    roleMappings: r.roleMappings,
    timeoutMs: r.timeoutMs,
    cacheTtlSeconds: r.cacheTtlSeconds,
    enabled: r.enabled,
    operatorLogin: r.operatorLogin ?? null,
    sync: r.sync ?? null,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
  };
}
