import { Injectable } from '@nestjs/common';
import { Subject } from 'rxjs';
import { ConfigPublisher } from '../config-publisher/config-publisher';
import { Database, type Tx } from '../database/database';
import { auditEvents } from '../database/schema';
import { ActorContext } from '../governance/actor.context';
import { diffEntity } from './change-diff';

export interface ChangeRecord {
  action: 'create' | 'update' | 'delete' | string;
  entityKind: string;
  entityId: string | null;
  projectId: string | null;
  teamId?: string | null;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
}

export type AuditEvent = typeof auditEvents.$inferSelect;

/**
 * The only way to change the system of record. The work runs in one transaction and must say what
 * it changed; the audit row (actor from the request context, masked diff) is written in that same
 * transaction, so a failed change leaves no record and a committed one exactly one. After commit
 * the config is republished and the event goes to live audit tails.
 */
@Injectable()
export class ChangeWriter {
  readonly committed = new Subject<AuditEvent>();

  constructor(
    private readonly database: Database,
    private readonly publisher: ConfigPublisher,
  ) {}

  async write<T>(work: (tx: Tx) => Promise<{ change: ChangeRecord | null; result: T }>): Promise<T> {
    const actor = ActorContext.current();
    const { result, event } = await this.database.transaction(async (tx) => {
      const { change, result } = await work(tx);
      if (!change) return { result, event: undefined };
      const [event] = await tx
        .insert(auditEvents)
        .values({
          actorId: actor.id,
          actorType: actor.type,
          actorName: actor.name,
          source: actor.source,
          ip: actor.ip,
          correlationId: actor.correlationId,
          action: `${change.entityKind}.${change.action}`,
          entityKind: change.entityKind,
          entityId: change.entityId,
          projectId: change.projectId,
          teamId: change.teamId ?? null,
          diff: diffEntity(change.before, change.after),
        })
        .returning();
      return { result, event };
    });
    if (event) {
      this.committed.next(event);
      await this.publisher.publish();
    }
    return result;
  }
}
