import { END_USER_SELF_SERVICE, endUserSelfServiceReplySchema, type EndUserSelfServiceReply, type EndUserSelfServiceRequest } from '@idm/config-bus';
import type { ClientProxy } from '@nestjs/microservices';
import { firstValueFrom, timeout } from 'rxjs';

const STATUS_TIMEOUT_MS = 1_500;

/** What the self-service pages ask the Manager; `unavailable` when it did not answer (or answered garbage). */
export interface SelfServiceManager {
  ask(request: EndUserSelfServiceRequest): Promise<EndUserSelfServiceReply | 'unavailable'>;
}

/** Over the bus (`end-users.self-service`), like just-in-time provisioning: the Gateway never writes the database. */
export class BusSelfServiceManager implements SelfServiceManager {
  constructor(
    private readonly bus: ClientProxy,
    private readonly timeoutMs: number,
  ) {}

  async ask(request: EndUserSelfServiceRequest): Promise<EndUserSelfServiceReply | 'unavailable'> {
    try {
      // The login page asks `status` on its way: a Manager that is away costs it a short wait only.
      const wait = request.action === 'status' ? Math.min(this.timeoutMs, STATUS_TIMEOUT_MS) : this.timeoutMs;
      const reply = await firstValueFrom(this.bus.send<unknown, EndUserSelfServiceRequest>(END_USER_SELF_SERVICE, request).pipe(timeout(wait)));
      const parsed = endUserSelfServiceReplySchema.safeParse(reply);
      return parsed.success ? parsed.data : 'unavailable';
    } catch {
      return 'unavailable';
    }
  }
}
