import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AuthController } from './auth.controller';
import { LoginLockoutsController } from './login-lockouts.controller';
import { OperatorAuthGuard } from './operator-auth.guard';
import { LoginThrottle } from '../throttling/login-throttle';
import { OperatorAuthService } from './operator-auth.service';
import { PasswordHasher } from './password-hasher';
import { PasswordWorkLimiter } from './password-work-limiter';
import { UpstreamPolicyCheck } from '../api-proxies/upstream-policy.check';
import { FederatedOperators } from '../operator-sso/federated-operators';
import { OperatorPasswordSources } from '../operator-sso/operator-password-sources';
import { ExternalOperatorSources } from '../operator-sso/external-operator-sources';
import { OidcOperatorSso } from '../operator-sso/oidc-operator-sso';
import { OperatorSsoController } from '../operator-sso/operator-sso.controller';
import { SamlOperatorSso } from '../operator-sso/saml-operator-sso';
import { SsoAdmission } from '../operator-sso/sso-admission';
import { SsoLoginStore } from '../operator-sso/sso-login-store';

@Module({
  controllers: [AuthController, LoginLockoutsController, OperatorSsoController],
  providers: [
    UpstreamPolicyCheck,
    OperatorPasswordSources,
    FederatedOperators,
    ExternalOperatorSources,
    SsoLoginStore,
    SsoAdmission,
    OidcOperatorSso,
    SamlOperatorSso,
    PasswordWorkLimiter,
    PasswordHasher,
    LoginThrottle,
    OperatorAuthService,
    { provide: APP_GUARD, useClass: OperatorAuthGuard },
  ],
  exports: [PasswordHasher, OperatorAuthService],
})
export class AuthModule {}
