import { Controller, Logger } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { CLIENT_REGISTRATION, clientRegistrationRequestSchema, refusalReason, type ClientRegistrationReply } from '@idm/config-bus';
import { ClientRegistrations } from './client-registrations.service';

/** Answers the Gateways' registration endpoints (`oidc-clients.registration`): the RFC 7591/7592 decision and the HTTP answer to relay. */
@Controller()
export class ClientRegistrationBusController {
  private readonly logger = new Logger('ClientRegistration');

  constructor(private readonly registrations: ClientRegistrations) {}

  @MessagePattern(CLIENT_REGISTRATION)
  async handle(@Payload() payload: unknown): Promise<ClientRegistrationReply> {
    const parsed = clientRegistrationRequestSchema.safeParse(payload);
    if (!parsed.success) {
      this.logger.warn(`malformed ${CLIENT_REGISTRATION} request refused: ${refusalReason(parsed.error)}`);
      return { status: 400, body: { error: 'invalid_request', error_description: 'the registration request could not be read' } };
    }
    try {
      return await this.registrations.handle(parsed.data);
    } catch (err) {
      // The database (or a hash worker) failed: the client may retry; nothing was half-written (one transaction).
      this.logger.error(`client registration (${parsed.data.operation}) failed: ${(err as Error).message}`);
      return { status: 503, body: { error: 'temporarily_unavailable', error_description: 'the registration could not be processed; try again' } };
    }
  }
}
