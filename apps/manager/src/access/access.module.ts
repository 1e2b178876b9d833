import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { GroupsController } from './groups.controller';
import { GroupsService } from './groups.service';
import { MyPermissionsController } from './my-permissions.controller';
import { RolesController } from './roles.controller';
import { RolesService } from './roles.service';
import { UsersController } from './users.controller';
import { UsersService } from './users.service';

/** Who may do what: operators, groups, roles and role bindings. */
@Module({
  imports: [AuthModule],
  controllers: [UsersController, GroupsController, RolesController, MyPermissionsController],
  providers: [UsersService, GroupsService, RolesService],
  exports: [RolesService],
})
export class AccessModule {}
