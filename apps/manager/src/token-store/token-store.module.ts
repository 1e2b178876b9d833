import { Module } from '@nestjs/common';
import { TokenLookupController } from './token-lookup.controller';
import { TokenPersistenceWorker } from './token-persistence.worker';

@Module({ controllers: [TokenLookupController], providers: [TokenPersistenceWorker] })
export class TokenStoreModule {}
