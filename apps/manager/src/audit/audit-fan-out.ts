import { Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { concatMap, filter, mergeMap, type Observable, type Subscription } from 'rxjs';
import { LiveFeed } from '../live/live-feed';
import { AuditEventRepository } from '../repositories/audit-event.repository';
import { ChangeWriter, type AuditEvent } from './change-writer';

/** Redis channel of committed audit events, so a tail on any Manager shows the changes made through every Manager. */
export const AUDIT_LIVE_CHANNEL = 'idm:audit:live';

/**
 * Publishes every change committed through this Manager and yields those of the others (this
 * Manager's own come from `ChangeWriter.committed` directly, so no tail depends on Redis for them
 * or sees them twice). The message names the committed row (`seq`, and its time to tell it from
 * another database's row of the same number) only: Managers share the
 * database, so a Manager with a tail open reads the event there, and a change does not send its
 * audit diff over Redis (~500 B of a one-credential change's bytes, issue #13) for tails that
 * are rarely open.
 */
@Injectable()
export class AuditFanOut implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly origin = randomUUID();
  private subscription?: Subscription;

  constructor(
    private readonly changes: ChangeWriter,
    private readonly live: LiveFeed,
    private readonly events: AuditEventRepository,
  ) {}

  onApplicationBootstrap(): void {
    this.subscription = this.changes.committed.subscribe((event) =>
      this.live.publish(AUDIT_LIVE_CHANNEL, JSON.stringify({ origin: this.origin, seq: event.seq, at: event.at.getTime() })),
    );
  }

  onApplicationShutdown(): void {
    this.subscription?.unsubscribe();
  }

  /** Events committed through the other Managers, in the order they were announced. */
  others(): Observable<AuditEvent> {
    return this.live.messages(AUDIT_LIVE_CHANNEL).pipe(
      mergeMap((message) => {
        try {
          return [JSON.parse(message) as { origin?: unknown; seq?: unknown; at?: unknown }];
        } catch {
          return [];
        }
      }),
      filter((m): m is { origin: unknown; seq: number; at: number } => m.origin !== this.origin && Number.isSafeInteger(m.seq) && (m.seq as number) > 0 && Number.isFinite(m.at)),
      // A row not found, or another row under that number (a Manager of another database sharing
      // this Redis: its commit time differs), or unreadable, is skipped.
      concatMap(async (m) => {
        const event = await this.events.bySeq(m.seq).catch(() => null);
        return event !== null && event.at.getTime() === m.at ? event : null;
      }),
      filter((event): event is AuditEvent => event !== null),
    );
  }
}
