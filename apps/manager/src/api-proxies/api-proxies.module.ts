import { Module } from '@nestjs/common';
import { ApiProxiesController } from './api-proxies.controller';
import { ApiProxiesService } from './api-proxies.service';
import { PolicyTypesController } from './policy-types.controller';
import { LegacyNestingCheck } from './legacy-nesting.check';
import { UpstreamPolicyCheck } from './upstream-policy.check';
import { IdentitySourceUseCheck } from '../identity-sources/identity-source-use.check';
import { KeyManagerUseCheck } from '../key-managers/key-manager-use.check';
import { SecretUseCheck } from '../project-secrets/secret-use.check';

@Module({
  controllers: [ApiProxiesController, PolicyTypesController],
  providers: [ApiProxiesService, UpstreamPolicyCheck, LegacyNestingCheck, KeyManagerUseCheck, IdentitySourceUseCheck, SecretUseCheck],
  exports: [ApiProxiesService],
})
export class ApiProxiesModule {}
