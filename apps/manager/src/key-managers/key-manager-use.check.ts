import { Injectable } from '@nestjs/common';
import type { PolicySpec } from '@idm/domain';
import type { Reads } from '../database/database';
import { ActorContext } from '../governance/actor.context';
import { ProblemError } from '../problems/problem.error';
import { KeyManagerRepository, type KeyManagerRow } from '../repositories/key-manager.repository';

/**
 * Who may point a proxy at a key manager: it must exist, be System-wide or of the proxy's
 * project, and its role list (WSO2's key manager permissions: ALLOW or DENY, never both) must let
 * one of the roles the operator holds there use it. Checked when a proxy's policies are saved.
 */
@Injectable()
export class KeyManagerUseCheck {
  constructor(private readonly keyManagers: KeyManagerRepository) {}

  async require(db: Reads, projectId: string, policies: readonly PolicySpec[]): Promise<void> {
    const named = policies.flatMap((p, i) => {
      const ids = (p.config as { keyManagers?: unknown }).keyManagers;
      return Array.isArray(ids) ? ids.map((id) => ({ id: String(id), i })) : [];
    });
    if (named.length === 0) return;
    const rows = new Map((await this.keyManagers.findByIds([...new Set(named.map((n) => n.id))], db)).map((r) => [r.id, r]));
    const issues = named.flatMap(({ id, i }) => {
      const row = rows.get(id);
      const path = `policies.${i}.config.keyManagers`;
      if (row === undefined) return [{ path, message: `no key manager ${id}` }];
      if (row.projectId !== null && row.projectId !== projectId) return [{ path, message: `key manager ${row.name} belongs to another project` }];
      return [];
    });
    if (issues.length > 0)
      throw new ProblemError(422, 'key_manager_not_usable', 'A key manager named by the policies cannot be used here', issues.map((p) => p.message).join('; '), issues);
    for (const row of rows.values()) {
      const refusal = this.roleRefusal(row, projectId);
      if (refusal !== null) throw new ProblemError(403, 'key_manager_denied', 'Your roles may not use this key manager', refusal, undefined, { keyManager: row.id });
    }
  }

  /**
   * The key managers a client trusts for the JWT bearer grant (`jwtBearer.keyManagers`, by name):
   * each must exist, be System-wide or of the client's project, and verify JWTs of an external
   * issuer — our own token service (builtin) signs no assertions, an opaque-only one has no keys.
   * Its role list applies as for a proxy. Checked at save, so a client never trusts a name the
   * Gateway would silently ignore.
   */
  async requireNamed(db: Reads, projectId: string, named: readonly { name: string; path: string }[]): Promise<void> {
    if (named.length === 0) return;
    const rows = new Map((await this.keyManagers.findByNames([...new Set(named.map((n) => n.name))], db)).map((r) => [r.name, r]));
    const issues = named.flatMap(({ name, path }) => {
      const row = rows.get(name);
      if (row === undefined) return [{ path, message: `no key manager ${name}` }];
      if (row.projectId !== null && row.projectId !== projectId) return [{ path, message: `key manager ${name} belongs to another project` }];
      if (row.type === 'builtin') return [{ path, message: `key manager ${name} is our own token service: it signs no assertions` }];
      if (row.settings.tokenTypes === 'opaque') return [{ path, message: `key manager ${name} accepts only opaque tokens: it cannot verify an assertion` }];
      return [];
    });
    if (issues.length > 0) throw new ProblemError(422, 'key_manager_not_usable', 'A key manager named here cannot be used', issues.map((p) => p.message).join('; '), issues);
    for (const row of rows.values()) {
      const refusal = this.roleRefusal(row, projectId);
      if (refusal !== null) throw new ProblemError(403, 'key_manager_denied', 'Your roles may not use this key manager', refusal, undefined, { keyManager: row.id });
    }
  }

  private roleRefusal(row: KeyManagerRow, projectId: string): string | null {
    const list = row.settings.roleList;
    const actor = ActorContext.current();
    if (list === null || actor.type === 'system') return null;
    const held = new Set(actor.grants.filter((g) => g.role !== undefined && (g.scope.type === 'system' || g.projectId === projectId)).map((g) => g.role!));
    const listed = list.roles.some((r) => held.has(r));
    if (list.type === 'ALLOW' ? listed : !listed) return null;
    return `key manager ${row.name} ${list.type === 'ALLOW' ? 'allows only the roles' : 'denies the roles'} ${list.roles.join(', ')}`;
  }
}
