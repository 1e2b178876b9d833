import { Module } from '@nestjs/common';
import { SelfServiceController } from './self-service.controller';
import { SelfServiceThrottle } from '../throttling/self-service-throttle';
import { SelfServiceService } from './self-service.service';

@Module({ controllers: [SelfServiceController], providers: [SelfServiceService, SelfServiceThrottle] })
export class SelfServiceModule {}
