import { Module } from '@nestjs/common';
import { ApiProxiesController } from './api-proxies.controller';
import { ApiProxiesService } from './api-proxies.service';

@Module({ controllers: [ApiProxiesController], providers: [ApiProxiesService], exports: [ApiProxiesService] })
export class ApiProxiesModule {}
