import { Module } from '@nestjs/common';
import { UpstreamPolicyCheck } from '../api-proxies/upstream-policy.check';
import { AuthModule } from '../auth/auth.module';
import { ClientRegistrationBusController } from './client-registration.bus-controller';
import { ClientRegistrationController } from './client-registration.controller';
import { ClientRegistrationSettingsService } from './client-registration-settings.service';
import { ClientRegistrations } from './client-registrations.service';
import { InitialAccessTokensService } from './initial-access-tokens.service';
import { RegistrationProjectsPublisher } from './registration-projects.publisher';

/** Dynamic client registration (RFC 7591/7592): the admin API of the switch and initial access tokens, and the Gateways' registration requests. */
@Module({
  imports: [AuthModule],
  controllers: [ClientRegistrationController, ClientRegistrationBusController],
  providers: [ClientRegistrationSettingsService, InitialAccessTokensService, ClientRegistrations, UpstreamPolicyCheck, RegistrationProjectsPublisher],
  exports: [ClientRegistrationSettingsService],
})
export class ClientRegistrationModule {}
