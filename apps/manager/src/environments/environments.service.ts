import { Injectable } from '@nestjs/common';
import type { CreateEnvironment, Environment, UpdateEnvironment } from '@idm/domain';
import { ChangeWriter } from '../audit/change-writer';
import { ConfigPublisher } from '../config-publisher/config-publisher';
import { PermissionService } from '../governance/permission.service';
import { ProblemError } from '../problems/problem.error';
import { EnvironmentRepository, type EnvironmentRow } from '../repositories/environment.repository';

type Row = EnvironmentRow;
const toEnvironment = (r: Row): Environment => ({
  id: r.id,
  name: r.name,
  description: r.description,
  revision: r.revision,
  createdAt: r.createdAt.toISOString(),
  updatedAt: r.updatedAt.toISOString(),
});
const SYSTEM = { projectId: null };

/** Environments are installation-wide: readable by anyone who may read them somewhere, written at system scope. */
@Injectable()
export class EnvironmentsService {
  constructor(
    private readonly environments: EnvironmentRepository,
    private readonly changes: ChangeWriter,
    private readonly permissions: PermissionService,
    private readonly publisher: ConfigPublisher,
  ) {}

  async list(): Promise<Environment[]> {
    this.permissions.checkAnywhere('environment:read');
    return (await this.environments.list()).map(toEnvironment);
  }

  async get(id: string): Promise<Environment> {
    this.permissions.checkAnywhere('environment:read');
    return toEnvironment(await this.find(id));
  }

  create(input: CreateEnvironment): Promise<Environment> {
    this.permissions.check('environment:write', SYSTEM);
    return this.changes.write(async (tx) => {
      const row = await this.environments.insert(tx, input);
      return { result: toEnvironment(row), change: { action: 'create', entityKind: 'environment', entityId: row.id, projectId: null, before: null, after: row } };
    });
  }

  async update(id: string, input: UpdateEnvironment): Promise<Environment> {
    this.permissions.check('environment:write', SYSTEM);
    return this.changes.write(async (tx) => {
      const before = await this.environments.findById(id, tx, true);
      if (!before) throw ProblemError.notFound('environment', id);
      const row = await this.environments.update(tx, id, { ...input, updatedAt: new Date() });
      return { result: toEnvironment(row), change: { action: 'update', entityKind: 'environment', entityId: id, projectId: null, before, after: row } };
    });
  }

  /**
   * Refused while proxies are deployed to it: undeploy them first, so no traffic vanishes by
   * accident. Its published config leaves Redis too (nothing would ever update or remove it).
   */
  async remove(id: string): Promise<void> {
    this.permissions.check('environment:write', SYSTEM);
    const name = await this.changes.write(async (tx) => {
      if (await this.environments.hasDeployments(tx, id)) throw ProblemError.conflict('environment_in_use', 'proxies are still deployed to this environment');
      const before = await this.environments.delete(tx, id);
      if (!before) throw ProblemError.notFound('environment', id);
      return { result: before.name, change: { action: 'delete', entityKind: 'environment', entityId: id, projectId: null, before, after: null } };
    });
    await this.publisher.withdraw(name);
  }

  private async find(id: string): Promise<Row> {
    const row = await this.environments.findById(id);
    if (!row) throw ProblemError.notFound('environment', id);
    return row;
  }
}
