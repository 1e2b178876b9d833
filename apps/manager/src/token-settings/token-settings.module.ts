import { Module } from '@nestjs/common';
import { TokenSettingsController } from './token-settings.controller';
import { TokenSettingsService } from './token-settings.service';

@Module({ controllers: [TokenSettingsController], providers: [TokenSettingsService] })
export class TokenSettingsModule {}
