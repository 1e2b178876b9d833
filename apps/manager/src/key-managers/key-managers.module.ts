import { Module } from '@nestjs/common';
import { UpstreamPolicyCheck } from '../api-proxies/upstream-policy.check';
import { KeyManagerSecretCheck } from './key-manager-secret.check';
import { KeyManagersController } from './key-managers.controller';
import { KeyManagersService } from './key-managers.service';

@Module({ controllers: [KeyManagersController], providers: [KeyManagersService, UpstreamPolicyCheck, KeyManagerSecretCheck], exports: [KeyManagersService] })
export class KeyManagersModule {}
