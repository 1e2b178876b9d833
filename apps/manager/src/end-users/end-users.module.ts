import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { EndUserProvisionController } from './end-user-provision.controller';
import { EndUsersController } from './end-users.controller';
import { EndUsersService } from './end-users.service';
import { FederatedEndUsers } from './federated-end-users.service';

@Module({
  imports: [AuthModule],
  controllers: [EndUsersController, EndUserProvisionController],
  providers: [EndUsersService, FederatedEndUsers],
})
export class EndUsersModule {}
