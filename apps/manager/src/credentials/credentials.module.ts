import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { CredentialImportController } from './credential-import.controller';
import { CredentialImportService } from './credential-import';
import { CredentialsController } from './credentials.controller';
import { CredentialsService } from './credentials.service';

@Module({
  imports: [AuthModule],
  controllers: [CredentialImportController, CredentialsController],
  providers: [CredentialsService, CredentialImportService],
  exports: [CredentialsService, CredentialImportService],
})
export class CredentialsModule {}
