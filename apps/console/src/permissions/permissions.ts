import { useQuery } from '@tanstack/react-query';
import { api } from '../api/client';

export interface Scope {
  projectId?: string;
  teamId?: string;
}

interface MyPermissions {
  scope: { type: string; id: string | null };
  permissions: string[];
}

/**
 * What the operator may do at a scope, as the Manager's PermissionService decides it
 * (GET /api/v1/me/permissions). Screens hide or disable what would be refused; the API still
 * decides every call, so a stale answer can only hide a button, never grant anything.
 */
export function usePermissions(scope: Scope = {}) {
  const query = new URLSearchParams(Object.entries(scope).filter((e): e is [string, string] => typeof e[1] === 'string'));
  const { data } = useQuery({
    queryKey: ['me', 'permissions', scope.projectId ?? null, scope.teamId ?? null],
    queryFn: () => api<MyPermissions>('GET', `/me/permissions${query.size ? `?${query.toString()}` : ''}`),
    staleTime: 30_000,
  });
  const held = new Set(data?.permissions ?? []);
  return { loaded: data !== undefined, can: (permission: string) => held.has(permission) };
}
