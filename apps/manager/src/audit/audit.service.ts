import { Injectable } from '@nestjs/common';
import type { AuditEventView, AuditPage, AuditQuery, ReadFilter } from '@idm/domain';
import { filter, map, merge, type Observable } from 'rxjs';
import { PermissionService } from '../governance/permission.service';
import { AuditEventRepository } from '../repositories/audit-event.repository';
import { AuditFanOut } from './audit-fan-out';
import { ChangeWriter, type AuditEvent } from './change-writer';

const toView = (e: AuditEvent): AuditEventView => ({
  seq: e.seq,
  at: e.at.toISOString(),
  actor: { id: e.actorId, type: e.actorType, name: e.actorName, source: e.source, ip: e.ip, correlationId: e.correlationId },
  action: e.action,
  entity: { kind: e.entityKind, id: e.entityId, projectId: e.projectId, teamId: e.teamId },
  diff: e.diff,
});

function visibleTo(filter: ReadFilter, e: Pick<AuditEvent, 'projectId' | 'teamId'>): boolean {
  return filter.all || (e.projectId !== null && filter.projectIds.includes(e.projectId)) || (e.teamId !== null && filter.teams.some((t) => t.id === e.teamId));
}

/** Reading the audit trail: a page at a time, or live; both show only what the reader's scopes reach. */
@Injectable()
export class AuditService {
  constructor(
    private readonly events: AuditEventRepository,
    private readonly changes: ChangeWriter,
    private readonly permissions: PermissionService,
    private readonly fanOut: AuditFanOut,
  ) {}

  async query(q: AuditQuery): Promise<AuditPage> {
    this.permissions.checkAnywhere('audit:read');
    const scope = this.permissions.readFilter('audit:read');
    const rows = await this.events.page(scope, q, q.limit + 1);
    const page = rows.slice(0, q.limit);
    return { items: page.map(toView), nextCursor: rows.length > q.limit ? String(page.at(-1)!.seq) : null };
  }

  /** Server-Sent Events: every committed change the reader may see, as it happens, through this Manager or any other. */
  tail(): Observable<AuditEventView> {
    this.permissions.checkAnywhere('audit:read');
    const scope = this.permissions.readFilter('audit:read');
    // The reader's scopes are captured at subscription; a change of grants takes a new subscription.
    return merge(this.changes.committed, this.fanOut.others()).pipe(
      filter((e) => visibleTo(scope, e)),
      map(toView),
    );
  }
}
