import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { CredentialsController } from './credentials.controller';
import { CredentialsService } from './credentials.service';

@Module({ imports: [AuthModule], controllers: [CredentialsController], providers: [CredentialsService], exports: [CredentialsService] })
export class CredentialsModule {}
