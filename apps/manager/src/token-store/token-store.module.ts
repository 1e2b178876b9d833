import { Module } from '@nestjs/common';
import { TokenLookupController } from './token-lookup.controller';
import { TokenPersistenceWorker } from './token-persistence.worker';
import { TokenPruner } from './token-pruner';

@Module({ controllers: [TokenLookupController], providers: [TokenPersistenceWorker, TokenPruner] })
export class TokenStoreModule {}
