import { AuthRecordRepository } from './auth-record.repository';
import { Global, Module } from '@nestjs/common';
import { ApiProxyRepository } from './api-proxy.repository';
import { AuditEventRepository } from './audit-event.repository';
import { CredentialRequestRepository } from './credential-request.repository';
import { CredentialRepository } from './credential.repository';
import { EnvironmentRepository } from './environment.repository';
import { GrantRepository } from './grant.repository';
import { GroupRepository } from './group.repository';
import { BruteForceSettingsRepository } from './brute-force-settings.repository';
import { ClientRegistrationRepository } from './client-registration.repository';
import { EndUserRegistrationRepository } from './end-user-registration.repository';
import { IdentitySourceRepository } from './identity-source.repository';
import { KeyManagerRepository } from './key-manager.repository';
import { OAuthTokenRepository } from './oauth-token.repository';
import { OperatorRepository } from './operator.repository';
import { ProjectSecretRepository } from './project-secret.repository';
import { ProjectRepository } from './project.repository';
import { RoleBindingRepository } from './role-binding.repository';
import { RoleRepository } from './role.repository';
import { SigningKeyRepository } from './signing-key.repository';
import { TeamRepository } from './team.repository';

const repositories = [
  ApiProxyRepository,
  AuditEventRepository,
  CredentialRepository,
  CredentialRequestRepository,
  EnvironmentRepository,
  GrantRepository,
  GroupRepository,
  IdentitySourceRepository,
  BruteForceSettingsRepository,
  ClientRegistrationRepository,
  EndUserRegistrationRepository,
  KeyManagerRepository,
  OAuthTokenRepository,
  OperatorRepository,
  ProjectRepository,
  ProjectSecretRepository,
  RoleBindingRepository,
  RoleRepository,
  SigningKeyRepository,
  TeamRepository,
  AuthRecordRepository,
];

/**
 * Every repository, for any module: they depend on the Database alone, so feature modules,
 * the config publisher and the ChangeWriter's callers share them without importing each other.
 */
@Global()
@Module({ providers: repositories, exports: repositories })
export class RepositoriesModule {}
