import { Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { filter, map, mergeMap, type Observable, type Subscription } from 'rxjs';
import { LiveFeed } from '../live/live-feed';
import { ChangeWriter, type AuditEvent } from './change-writer';

/** Redis channel of committed audit events, so a tail on any Manager shows the changes made through every Manager. */
export const AUDIT_LIVE_CHANNEL = 'idm:audit:live';

/**
 * Publishes every change committed through this Manager and yields those of the others (this
 * Manager's own come from `ChangeWriter.committed` directly, so no tail depends on Redis for them
 * or sees them twice).
 */
@Injectable()
export class AuditFanOut implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly origin = randomUUID();
  private subscription?: Subscription;

  constructor(
    private readonly changes: ChangeWriter,
    private readonly live: LiveFeed,
  ) {}

  onApplicationBootstrap(): void {
    this.subscription = this.changes.committed.subscribe((event) => this.live.publish(AUDIT_LIVE_CHANNEL, JSON.stringify({ origin: this.origin, event })));
  }

  onApplicationShutdown(): void {
    this.subscription?.unsubscribe();
  }

  /** Events committed through the other Managers. */
  others(): Observable<AuditEvent> {
    return this.live.messages(AUDIT_LIVE_CHANNEL).pipe(
      mergeMap((message) => {
        try {
          return [JSON.parse(message) as { origin?: unknown; event?: AuditEvent & { at: string } }];
        } catch {
          return [];
        }
      }),
      filter((m) => m.origin !== this.origin && typeof m.event === 'object' && m.event !== null && typeof m.event.at === 'string'),
      map((m) => ({ ...m.event!, at: new Date(m.event!.at) })),
    );
  }
}
