import { Module } from '@nestjs/common';
import { ProjectSecretsController } from './project-secrets.controller';
import { ProjectSecretsService } from './project-secrets.service';

@Module({ controllers: [ProjectSecretsController], providers: [ProjectSecretsService], exports: [ProjectSecretsService] })
export class ProjectSecretsModule {}
