import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { AccessModule } from './access/access.module';
import { ApiProxiesModule } from './api-proxies/api-proxies.module';
import { ApiopsModule } from './apiops/apiops.module';
import { AuditModule } from './audit/audit.module';
import { AnalyticsModule } from './analytics/analytics.module';
import { LiveModule } from './live/live.module';
import { AuthModule } from './auth/auth.module';
import { BruteForceModule } from './brute-force/brute-force.module';
import { MANAGER_CONFIG, type ManagerConfig } from './config/manager-config';
import { ConfigPublisherModule } from './config-publisher/config-publisher.module';
import { CredentialsModule } from './credentials/credentials.module';
import { DatabaseModule } from './database/database.module';
import { EndUsersModule } from './end-users/end-users.module';
import { ClientRegistrationModule } from './client-registration/client-registration.module';
import { EnvironmentsModule } from './environments/environments.module';
import { GovernanceModule } from './governance/governance.module';
import { HealthModule } from './health/health.module';
import { IdentitySourcesModule } from './identity-sources/identity-sources.module';
import { KeyManagersModule } from './key-managers/key-managers.module';
import { OpenApiModule } from './openapi/openapi.module';
import { ProblemFilter } from './problems/problem.filter';
import { ProjectSecretsModule } from './project-secrets/project-secrets.module';
import { ProjectsModule } from './projects/projects.module';
import { RepositoriesModule } from './repositories/repositories.module';
import { SecretsModule } from './secrets/secrets.module';
import { SelfServiceModule } from './self-service/self-service.module';
import { SigningKeysModule } from './signing-keys/signing-keys.module';
import { TeamsModule } from './teams/teams.module';
import { TokenSettingsModule } from './token-settings/token-settings.module';
import { TokenStoreModule } from './token-store/token-store.module';

@Module({})
export class AppModule {
  static forConfig(config: ManagerConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        { module: ConfigHolder, global: true, providers: [{ provide: MANAGER_CONFIG, useValue: config }], exports: [MANAGER_CONFIG] },
        DatabaseModule,
        RepositoriesModule,
        SecretsModule,
        ConfigPublisherModule,
        GovernanceModule,
        AuthModule,
        EnvironmentsModule,
        BruteForceModule,
        ProjectsModule,
        TeamsModule,
        ProjectSecretsModule,
        AccessModule,
        LiveModule,
        AuditModule,
        AnalyticsModule,
        ApiopsModule,
        SigningKeysModule,
        KeyManagersModule,
        IdentitySourcesModule,
        SelfServiceModule,
        TokenSettingsModule,
        TokenStoreModule,
        ApiProxiesModule,
        CredentialsModule,
        EndUsersModule,
        ClientRegistrationModule,
        HealthModule,
        OpenApiModule,
      ],
      providers: [{ provide: APP_FILTER, useClass: ProblemFilter }],
    };
  }
}

/** Carries the parsed configuration into the DI container. */
@Module({})
class ConfigHolder {}
