import { Module } from '@nestjs/common';
import { UpstreamPolicyCheck } from '../api-proxies/upstream-policy.check';
import { OperatorLoginCheck } from '../operator-sso/operator-login.check';
import { IdentitySourceSecretCheck } from './identity-source-secret.check';
import { IdentitySourceTester } from './identity-source-tester';
import { IdentitySourcesController } from './identity-sources.controller';
import { IdentitySourcesService } from './identity-sources.service';
import { SourceEndUsers } from './source-end-users';
import { IdentitySourceSyncRun } from './source-sync';
import { IdentitySourceSyncScheduler } from './source-sync.scheduler';
import { IdentitySourceSyncService } from './source-sync.service';

@Module({
  controllers: [IdentitySourcesController],
  providers: [
    IdentitySourcesService,
    IdentitySourceTester,
    UpstreamPolicyCheck,
    IdentitySourceSecretCheck,
    SourceEndUsers,
    OperatorLoginCheck,
    IdentitySourceSyncRun,
    IdentitySourceSyncScheduler,
    IdentitySourceSyncService,
  ],
  exports: [IdentitySourcesService],
})
export class IdentitySourcesModule {}
