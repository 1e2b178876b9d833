import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { EndUserProvisionController } from './end-user-provision.controller';
import { EndUsersController } from './end-users.controller';
import { EndUsersService } from './end-users.service';
import { FederatedEndUsers } from './federated-end-users.service';
import { OidcClientsController } from './oidc-clients.controller';
import { OidcClientsService } from './oidc-clients.service';

@Module({
  imports: [AuthModule],
  controllers: [EndUsersController, EndUserProvisionController, OidcClientsController],
  providers: [EndUsersService, FederatedEndUsers, OidcClientsService],
})
export class EndUsersModule {}
