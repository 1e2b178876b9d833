import type { AuditEvent, ChangeWriter } from '../audit/change-writer';
import type { ManagerConfig } from '../config/manager-config';
import { RedisMirror } from './redis-mirror';

/** What one Redis set of project ids holds and where it comes from. */
export interface ProjectSet {
  /** The Redis key the Gateways read. */
  key: string;
  /** The audited entity kind whose committed changes rewrite the set (a project's deletion does too). */
  entityKind: string;
  /** For the log: "projects accepting client registrations". */
  what: string;
  connectionName: string;
  /** The ids of the projects in the set, read from the database (the truth). */
  load(): Promise<string[]>;
}

/**
 * Keeps a Redis set of project ids that the Gateways read for a per-project switch (one bit per
 * project, read off the hot path) in step with the database: the whole set is rewritten after
 * each committed change of the switch (or a project's deletion). Why not the published
 * configuration: a snapshot field would republish every credential of the environment for a switch.
 */
export abstract class ProjectSetPublisher extends RedisMirror {
  protected constructor(
    config: ManagerConfig,
    writer: ChangeWriter,
    private readonly set: ProjectSet,
  ) {
    super(config, writer, set.connectionName, set.what);
  }

  protected changed(event: AuditEvent): undefined {
    if (event.entityKind === this.set.entityKind || (event.entityKind === 'project' && event.action.endsWith('delete'))) this.republishAll();
    return undefined;
  }

  protected async replaceAll(): Promise<void> {
    const projects = await this.set.load();
    const write = this.redis.multi().del(this.set.key);
    if (projects.length > 0) write.sadd(this.set.key, ...projects);
    await write.exec();
  }
}
