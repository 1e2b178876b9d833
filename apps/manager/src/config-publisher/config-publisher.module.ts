import { Global, Module } from '@nestjs/common';
import { ConfigPublisher } from './config-publisher';
import { EnvironmentEntities } from './environment-entities';

@Global()
@Module({ providers: [EnvironmentEntities, ConfigPublisher], exports: [ConfigPublisher] })
export class ConfigPublisherModule {}
