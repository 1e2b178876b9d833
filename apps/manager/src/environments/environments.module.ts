import { Module } from '@nestjs/common';
import { EnvironmentGatewaysController } from './environment-gateways.controller';
import { EnvironmentGatewaysService } from './environment-gateways.service';
import { EnvironmentsController } from './environments.controller';
import { EnvironmentsService } from './environments.service';

@Module({ controllers: [EnvironmentsController, EnvironmentGatewaysController], providers: [EnvironmentsService, EnvironmentGatewaysService] })
export class EnvironmentsModule {}
