import { Module } from '@nestjs/common';
import { AccessModule } from '../access/access.module';
import { ApiProxiesModule } from '../api-proxies/api-proxies.module';
import { AuthModule } from '../auth/auth.module';
import { BruteForceModule } from '../brute-force/brute-force.module';
import { CredentialsModule } from '../credentials/credentials.module';
import { EndUsersModule } from '../end-users/end-users.module';
import { ClientRegistrationModule } from '../client-registration/client-registration.module';
import { IdentitySourcesModule } from '../identity-sources/identity-sources.module';
import { KeyManagersModule } from '../key-managers/key-managers.module';
import { ProjectSecretsModule } from '../project-secrets/project-secrets.module';
import { ProjectsModule } from '../projects/projects.module';
import { TeamsModule } from '../teams/teams.module';
import { TokenSettingsModule } from '../token-settings/token-settings.module';
import { ApiopsController } from './apiops.controller';
import { ApiopsService } from './apiops.service';
import { ProjectStateReader } from './project-state.reader';

@Module({
  imports: [
    AuthModule,
    ProjectsModule,
    TeamsModule,
    AccessModule,
    ApiProxiesModule,
    CredentialsModule,
    KeyManagersModule,
    IdentitySourcesModule,
    ProjectSecretsModule,
    BruteForceModule,
    TokenSettingsModule,
    EndUsersModule,
    ClientRegistrationModule,
  ],
  controllers: [ApiopsController],
  providers: [ApiopsService, ProjectStateReader],
})
export class ApiopsModule {}
