import { Module } from '@nestjs/common';
import { BruteForceBlocksController } from './brute-force-blocks.controller';
import { BruteForceBlocksService } from './brute-force-blocks.service';
import { BruteForceSettingsController } from './brute-force-settings.controller';
import { BruteForceSettingsPublisher } from './brute-force-settings.publisher';
import { BruteForceSettingsService } from './brute-force-settings.service';

@Module({
  controllers: [BruteForceBlocksController, BruteForceSettingsController],
  providers: [BruteForceBlocksService, BruteForceSettingsService, BruteForceSettingsPublisher],
  exports: [BruteForceSettingsService],
})
export class BruteForceModule {}
