import { END_USER_PROVISION, endUserProvisionReplySchema, type EndUserProvisionReply, type EndUserProvisionRequest } from '@idm/config-bus';
import type { ClientProxy } from '@nestjs/microservices';
import { firstValueFrom, timeout } from 'rxjs';

/** Creates or refreshes the end user an identity source verified; `unavailable` when the Manager did not answer (or answered garbage). */
export interface EndUserProvisioner {
  provision(request: EndUserProvisionRequest): Promise<EndUserProvisionReply | 'unavailable'>;
}

/** Asks the Manager over the bus (`end-users.provision`): the Gateway never writes the database. */
export class BusEndUserProvisioner implements EndUserProvisioner {
  constructor(
    private readonly bus: ClientProxy,
    private readonly timeoutMs: number,
  ) {}

  async provision(request: EndUserProvisionRequest): Promise<EndUserProvisionReply | 'unavailable'> {
    try {
      const reply = await firstValueFrom(this.bus.send<unknown, EndUserProvisionRequest>(END_USER_PROVISION, request).pipe(timeout(this.timeoutMs)));
      const parsed = endUserProvisionReplySchema.safeParse(reply);
      return parsed.success ? parsed.data : 'unavailable';
    } catch {
      return 'unavailable';
    }
  }
}
