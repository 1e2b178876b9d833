import { Module } from '@nestjs/common';
import { EnvironmentTokenLifetimes } from './environment-token-lifetimes';
import { SigningKeysController } from './signing-keys.controller';
import { SigningKeySweeper } from './signing-key-sweeper';
import { SigningKeysService } from './signing-keys.service';

@Module({ controllers: [SigningKeysController], providers: [SigningKeysService, SigningKeySweeper, EnvironmentTokenLifetimes] })
export class SigningKeysModule {}
