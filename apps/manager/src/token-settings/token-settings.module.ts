import { Module } from '@nestjs/common';
import { UpstreamPolicyCheck } from '../api-proxies/upstream-policy.check';
import { IdentitySourceUseCheck } from '../identity-sources/identity-source-use.check';
import { KeyManagerUseCheck } from '../key-managers/key-manager-use.check';
import { TokenSettingsController } from './token-settings.controller';
import { TokenSettingsService } from './token-settings.service';

@Module({
  controllers: [TokenSettingsController],
  providers: [TokenSettingsService, IdentitySourceUseCheck, UpstreamPolicyCheck, KeyManagerUseCheck],
  exports: [TokenSettingsService],
})
export class TokenSettingsModule {}
