import { Global, Module } from '@nestjs/common';
import { ConfigPublisher } from './config-publisher';
import { SnapshotBuilder } from './snapshot.builder';

@Global()
@Module({ providers: [SnapshotBuilder, ConfigPublisher], exports: [ConfigPublisher] })
export class ConfigPublisherModule {}
