import { Injectable } from '@nestjs/common';
import { AsyncLocalStorage } from 'node:async_hooks';
import { Subject } from 'rxjs';
import { ConfigPublisher } from '../config-publisher/config-publisher';
import { touchedBy } from '../config-publisher/touched';
import { Database, type Tx } from '../database/database';
import { ActorContext } from '../governance/actor.context';
import { AuditEventRepository, type AuditEventRow } from '../repositories/audit-event.repository';
import { changesNothing, diffEntity } from './change-diff';

export interface ChangeRecord {
  /** 'create', 'update', 'delete' or an entity's own verb ('rotate', 'approve', 'unlock', ...). */
  action: string;
  entityKind: string;
  entityId: string | null;
  /** A change of many entities of one kind at once (a bulk import): their ids, for the publisher; not audited. */
  entityIds?: string[];
  projectId: string | null;
  teamId?: string | null;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
}

export type AuditEvent = AuditEventRow;

/** An update that left the entity as it was is no change: no audit row, no republication. */
const isChange = (change: ChangeRecord | null): change is ChangeRecord => !!change && !(change.action === 'update' && changesNothing(change.before, change.after));

/** An open multi-change unit (APIops apply): its transaction and the events awaiting commit. */
interface Batch {
  tx: Tx;
  events: AuditEvent[];
  changes: ChangeRecord[];
}

/**
 * The only way to change the system of record. The work runs in one transaction and must say what
 * it changed; the audit row (actor from the request context, masked diff) is written in that same
 * transaction, so a failed change leaves no record and a committed one exactly one. After commit
 * the config is republished and the event goes to live audit tails.
 */
@Injectable()
export class ChangeWriter {
  readonly committed = new Subject<AuditEvent>();
  private readonly batches = new AsyncLocalStorage<Batch>();

  constructor(
    private readonly database: Database,
    private readonly publisher: ConfigPublisher,
    private readonly auditEvents: AuditEventRepository,
  ) {}

  /**
   * Runs one change. Inside `batch()` it joins the batch's transaction (as a savepoint) and its
   * audit row commits or rolls back with the whole batch.
   */
  async write<T>(work: (tx: Tx) => Promise<{ change: ChangeRecord | null; result: T }>): Promise<T> {
    const batch = this.batches.getStore();
    if (batch) {
      return batch.tx.transaction(async (savepoint) => {
        const { change, result } = await work(savepoint);
        if (isChange(change)) {
          batch.events.push(await this.audit(savepoint, change));
          batch.changes.push(change);
        }
        return result;
      });
    }
    const outcome = await this.database.transaction(async (tx) => {
      const { change, result } = await work(tx);
      return isChange(change) ? { result, committed: { event: await this.audit(tx, change), change } } : { result };
    });
    if (outcome.committed) await this.afterCommit([outcome.committed.event], [outcome.committed.change]);
    return outcome.result;
  }

  /**
   * Where a check made before a write reads (existence before an argon2 hash or a key pair):
   * inside `batch()` the batch's transaction, which sees what earlier changes of the same APIops
   * bundle wrote; otherwise the database.
   */
  reads(): Pick<Tx, 'select'> {
    return this.batches.getStore()?.tx ?? this.database.db;
  }

  /** Many changes, one transaction: all of them (with their audit rows) or none. Inside a batch (APIops apply), joins it. */
  async batch<T>(work: () => Promise<T>): Promise<T> {
    if (this.batches.getStore()) return work();
    const events: AuditEvent[] = [];
    const changes: ChangeRecord[] = [];
    const result = await this.database.transaction((tx) => this.batches.run({ tx, events, changes }, work));
    if (events.length) await this.afterCommit(events, changes);
    return result;
  }

  private async afterCommit(events: AuditEvent[], changes: ChangeRecord[]): Promise<void> {
    for (const event of events) this.committed.next(event);
    // Only what these changes touched is read and compared (O(change)), in every environment.
    await this.publisher.publish(touchedBy(changes));
  }

  private async audit(tx: Tx, change: ChangeRecord): Promise<AuditEvent> {
    const actor = ActorContext.current();
    return this.auditEvents.append(tx, {
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
    });
  }
}
