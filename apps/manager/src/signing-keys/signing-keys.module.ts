import { Module } from '@nestjs/common';
import { SigningKeysController } from './signing-keys.controller';
import { SigningKeySweeper } from './signing-key-sweeper';
import { SigningKeysService } from './signing-keys.service';

@Module({ controllers: [SigningKeysController], providers: [SigningKeysService, SigningKeySweeper] })
export class SigningKeysModule {}
