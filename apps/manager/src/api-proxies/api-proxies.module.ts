import { Module } from '@nestjs/common';
import { ApiProxiesController } from './api-proxies.controller';
import { ApiProxiesService } from './api-proxies.service';
import { LegacyNestingCheck } from './legacy-nesting.check';
import { UpstreamPolicyCheck } from './upstream-policy.check';

@Module({ controllers: [ApiProxiesController], providers: [ApiProxiesService, UpstreamPolicyCheck, LegacyNestingCheck], exports: [ApiProxiesService] })
export class ApiProxiesModule {}
