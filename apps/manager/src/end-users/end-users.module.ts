import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { EndUserProvisionController } from './end-user-provision.controller';
import { EndUsersController } from './end-users.controller';
import { EndUsersService } from './end-users.service';
import { FederatedEndUsers } from './federated-end-users.service';
import { OidcClientsController } from './oidc-clients.controller';
import { OidcClientsService } from './oidc-clients.service';
import { EndUserMailer } from './self-service/end-user-mailer';
import { EndUserMailsController } from './self-service/end-user-mails.controller';
import { EndUserMails } from './self-service/end-user-mails.service';
import { EndUserRegistrationController } from './self-service/end-user-registration.controller';
import { EndUserRegistrationSettingsService } from './self-service/end-user-registration-settings.service';
import { EndUserSelfServiceController } from './self-service/end-user-self-service.controller';
import { EndUserSelfService } from './self-service/end-user-self-service.service';
import { SelfServiceStore } from './self-service/self-service-store';
import { VerifiedEmailProjectsPublisher } from './self-service/verified-email-projects.publisher';

@Module({
  imports: [AuthModule],
  controllers: [EndUsersController, EndUserProvisionController, OidcClientsController, EndUserRegistrationController, EndUserMailsController, EndUserSelfServiceController],
  providers: [
    EndUsersService,
    FederatedEndUsers,
    OidcClientsService,
    EndUserMailer,
    EndUserMails,
    EndUserRegistrationSettingsService,
    EndUserSelfService,
    SelfServiceStore,
    VerifiedEmailProjectsPublisher,
  ],
  exports: [EndUserRegistrationSettingsService],
})
export class EndUsersModule {}
