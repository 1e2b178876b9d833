import { Module } from '@nestjs/common';
import { UpstreamPolicyCheck } from '../api-proxies/upstream-policy.check';
import { OperatorLoginCheck } from '../operator-sso/operator-login.check';
import { IdentitySourceSecretCheck } from './identity-source-secret.check';
import { IdentitySourceTester } from './identity-source-tester';
import { IdentitySourcesController } from './identity-sources.controller';
import { IdentitySourcesService } from './identity-sources.service';
import { SourceEndUsers } from './source-end-users';

@Module({
  controllers: [IdentitySourcesController],
  providers: [IdentitySourcesService, IdentitySourceTester, UpstreamPolicyCheck, IdentitySourceSecretCheck, SourceEndUsers, OperatorLoginCheck],
  exports: [IdentitySourcesService],
})
export class IdentitySourcesModule {}
