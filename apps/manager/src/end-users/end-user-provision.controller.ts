import { Controller, Logger } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { END_USER_PROVISION, endUserProvisionRequestSchema, refusalReason, type EndUserProvisionReply } from '@idm/config-bus';
import { FederatedEndUsers } from './federated-end-users.service';

/** Answers Gateways whose identity source verified a login: the end user linked to the source (created or refreshed). */
@Controller()
export class EndUserProvisionController {
  private readonly logger = new Logger('EndUserProvision');

  constructor(private readonly federated: FederatedEndUsers) {}

  @MessagePattern(END_USER_PROVISION)
  async provision(@Payload() payload: unknown): Promise<EndUserProvisionReply> {
    const parsed = endUserProvisionRequestSchema.safeParse(payload);
    if (!parsed.success) {
      this.logger.warn(`malformed ${END_USER_PROVISION} request refused: ${refusalReason(parsed.error)}`);
      return { outcome: 'refused', reason: 'invalid_identity' };
    }
    return this.federated.provision(parsed.data);
  }
}
