import { Injectable } from '@nestjs/common';
import type { SourceIdentity } from '@idm/identity-sources';
import { ChangeWriter } from '../audit/change-writer';
import { ActorContext } from '../governance/actor.context';
import { ProblemError } from '../problems/problem.error';
import { OperatorRepository } from '../repositories/operator.repository';
import type { IdentitySourceRow } from '../repositories/identity-source.repository';
import { RoleBindingRepository } from '../repositories/role-binding.repository';
import { bindingsForGroups, resolveOperatorBindings } from '../repositories/operator-bindings';

/** Stored as a federated operator's password hash: no argon2 verification accepts it. */
const NO_PASSWORD = '!federated';

export interface FederatedOperator {
  id: string;
  username: string;
  /** How many role bindings the operator's groups map to now. */
  bindings: number;
}

/**
 * Just-in-time provisioning of operators a source vouched for: the first login creates a Manager
 * user keyed by (source, subject) — named `<source>:<subject>`, which no local username can be —
 * and every login makes the user's own role bindings exactly what its groups map to now (groups
 * left in the directory lose their bindings at the next login). Bindings given through Manager
 * groups are the admins' and stay. One transaction, audited as the user's change with its
 * bindings before and after.
 *
 * `requireBinding` (single sign-on): a first login whose groups map to no role is refused with
 * nothing written (`operator_no_role_binding`); a known operator is still refreshed (its bindings
 * dropped) and the caller refuses the login.
 */
@Injectable()
export class FederatedOperators {
  constructor(
    private readonly operators: OperatorRepository,
    private readonly bindings: RoleBindingRepository,
    private readonly changes: ChangeWriter,
  ) {}

  async provision(source: IdentitySourceRow, identity: SourceIdentity, options: { requireBinding?: boolean } = {}): Promise<FederatedOperator> {
    const subject = identity.username;
    const username = `${source.name}:${subject}`;
    const actor = { ...ActorContext.current(), name: username };
    return ActorContext.run(actor, () =>
      this.changes.write(async (tx) => {
        const { resolved } = await resolveOperatorBindings(tx, source.operatorLogin?.groupBindings ?? []);
        const wanted = bindingsForGroups(resolved, identity.groups);
        let operator = await this.operators.findFederated(tx, source.id, subject);
        const before = operator;
        if (operator === undefined && wanted.length === 0 && options.requireBinding)
          throw new ProblemError(
            403,
            'operator_no_role_binding',
            'No Manager role for your groups',
            `none of your groups at '${source.name}' is bound to a Manager role; ask an administrator to map one of your groups`,
          );
        if (operator === undefined) operator = await this.operators.insert(tx, { username, passwordHash: NO_PASSWORD, sourceId: source.id, subject });
        else if (operator.username !== username) operator = await this.operators.update(tx, operator.id, { username, updatedAt: new Date() });
        const current = before === undefined ? [] : await this.bindings.ofUser(tx, operator.id);
        const key = (b: { roleId: string; scopeType: string; scopeId: string | null }) => `${b.roleId}|${b.scopeType}|${b.scopeId ?? ''}`;
        const wantedKeys = new Set(wanted.map(key));
        const currentKeys = new Set(current.map(key));
        await this.bindings.deleteByIds(
          tx,
          current.filter((b) => !wantedKeys.has(key(b))).map((b) => b.id),
        );
        for (const w of wanted.filter((b) => !currentKeys.has(key(b))))
          await this.bindings.insert(tx, { roleId: w.roleId, subjectType: 'user', subjectId: operator.id, scopeType: w.scopeType, scopeId: w.scopeId, projectId: w.projectId });
        const describe = (list: { roleId: string; scopeType: string; scopeId: string | null }[]) => list.map(key).sort();
        const view = (o: typeof operator, list: { roleId: string; scopeType: string; scopeId: string | null }[]) => ({
          id: o.id,
          username: o.username,
          sourceId: o.sourceId,
          subject: o.subject,
          bindings: describe(list),
        });
        return {
          result: { id: operator.id, username: operator.username, bindings: wanted.length },
          change: {
            action: before === undefined ? 'create' : 'update',
            entityKind: 'user',
            entityId: operator.id,
            projectId: null,
            before: before === undefined ? null : view(before, current),
            after: view(operator, wanted),
          },
        };
      }),
    );
  }
}
