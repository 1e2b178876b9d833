import { Controller, Logger } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { END_USER_SELF_SERVICE, endUserSelfServiceRequestSchema, refusalReason, type EndUserSelfServiceReply } from '@idm/config-bus';
import { EndUserSelfService } from './end-user-self-service.service';

/** Answers the Gateways' self-service pages (register, forgot password, the mail links): the Manager decides and writes. */
@Controller()
export class EndUserSelfServiceController {
  private readonly logger = new Logger('EndUserSelfService');

  constructor(private readonly selfService: EndUserSelfService) {}

  @MessagePattern(END_USER_SELF_SERVICE)
  async handle(@Payload() payload: unknown): Promise<EndUserSelfServiceReply> {
    const parsed = endUserSelfServiceRequestSchema.safeParse(payload);
    if (!parsed.success) {
      this.logger.warn(`malformed ${END_USER_SELF_SERVICE} request refused: ${refusalReason(parsed.error)}`);
      return { outcome: 'refused', code: 'invalid_request' };
    }
    try {
      return await this.selfService.handle(parsed.data);
    } catch (err) {
      // Redis or the database away: the page shows "try again later", the Gateway never sees a stack.
      this.logger.warn(`${parsed.data.action} failed: ${err instanceof Error ? err.message : String(err)}`);
      return { outcome: 'refused', code: 'mail_unavailable' };
    }
  }
}
