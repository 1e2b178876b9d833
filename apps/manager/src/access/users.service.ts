import { Injectable } from '@nestjs/common';
import type { ChangeOwnPassword, CreateUser, UpdateUser, User } from '@idm/domain';
import { ChangeWriter } from '../audit/change-writer';
import { PasswordHasher } from '../auth/password-hasher';
import { ActorContext } from '../governance/actor.context';
import { PermissionService } from '../governance/permission.service';
import { ProblemError } from '../problems/problem.error';
import { OperatorRepository, type OperatorRow } from '../repositories/operator.repository';
import { RoleBindingRepository } from '../repositories/role-binding.repository';

const toUser = (r: OperatorRow): User => ({ id: r.id, username: r.username, createdAt: r.createdAt.toISOString(), updatedAt: r.updatedAt.toISOString() });
const SYSTEM = { projectId: null };

/** Operators of the Manager (people and automation accounts); passwords argon2id, never returned. */
@Injectable()
export class UsersService {
  constructor(
    private readonly operators: OperatorRepository,
    private readonly bindings: RoleBindingRepository,
    private readonly changes: ChangeWriter,
    private readonly permissions: PermissionService,
    private readonly hasher: PasswordHasher,
  ) {}

  async list() {
    this.permissions.checkAnywhere('user:read');
    return (await this.operators.list()).map(toUser);
  }

  async get(id: string) {
    this.permissions.checkAnywhere('user:read');
    const row = await this.operators.findById(id);
    if (!row) throw ProblemError.notFound('user', id);
    return toUser(row);
  }

  async create(input: CreateUser) {
    this.permissions.check('user:write', SYSTEM);
    const passwordHash = await this.hasher.hash(input.password);
    return this.changes.write(async (tx) => {
      const row = await this.operators.insert(tx, { username: input.username, passwordHash });
      return { result: toUser(row), change: { action: 'create', entityKind: 'user', entityId: row.id, projectId: null, before: null, after: row } };
    });
  }

  async update(id: string, input: UpdateUser) {
    this.permissions.check('user:write', SYSTEM);
    if (input.password) {
      // Checked again in the transaction; first here, so a wrong id costs no argon2 hash.
      if (!(await this.operators.findById(id))) throw ProblemError.notFound('user', id);
    }
    const passwordHash = input.password ? await this.hasher.hash(input.password) : undefined;
    return this.changes.write(async (tx) => {
      const before = await this.operators.findById(id, tx, true);
      if (!before) throw ProblemError.notFound('user', id);
      const row = await this.operators.update(tx, id, { ...(passwordHash ? { passwordHash } : {}), updatedAt: new Date() });
      return { result: toUser(row), change: { action: 'update', entityKind: 'user', entityId: id, projectId: null, before, after: row } };
    });
  }

  async remove(id: string): Promise<void> {
    this.permissions.check('user:write', SYSTEM);
    if (ActorContext.current().id === id) throw ProblemError.conflict('cannot_delete_self', 'an operator cannot delete their own account');
    await this.changes.write(async (tx) => {
      const before = await this.operators.delete(tx, id);
      if (!before) throw ProblemError.notFound('user', id);
      await this.bindings.deleteForSubject(tx, id);
      return { result: undefined, change: { action: 'delete', entityKind: 'user', entityId: id, projectId: null, before, after: null } };
    });
  }

  /** Any operator may change their own password, proving the current one. */
  async changeOwnPassword(input: ChangeOwnPassword): Promise<void> {
    const actor = ActorContext.current();
    const me = await this.operators.findById(actor.id!);
    if (!me || !(await this.hasher.verify(me.passwordHash, input.currentPassword))) {
      throw new ProblemError(400, 'invalid_current_password', 'The current password is wrong');
    }
    const passwordHash = await this.hasher.hash(input.newPassword);
    await this.changes.write(async (tx) => {
      const row = await this.operators.update(tx, me.id, { passwordHash, updatedAt: new Date() });
      return { result: undefined, change: { action: 'update', entityKind: 'user', entityId: me.id, projectId: null, before: me, after: row } };
    });
  }
}
