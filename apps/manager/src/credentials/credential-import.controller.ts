import { Controller, Param, Post } from '@nestjs/common';
import { importCredentialsSchema, importedCredentialsSchema } from '@idm/domain';
import type { z } from 'zod';
import { Contract, ContractBody } from '../openapi/contract.decorator';
import { IdPipe } from '../problems/id.pipe';
import { CredentialImportService } from './credential-import';

/** 10,000 credentials with keys, hashes and metadata fit well within this. */
const IMPORT_BODY_LIMIT = 32 * 2 ** 20;

@Controller('api/v1/projects/:projectId/credentials')
export class CredentialImportController {
  constructor(private readonly imports: CredentialImportService) {}

  @Post('import')
  @Contract({
    summary: 'Import up to 10,000 credentials at once, all or none: API keys in clear (stored as SHA-256), passwords only as argon2id PHC hashes',
    body: importCredentialsSchema,
    status: 201,
    response: importedCredentialsSchema,
    bodyLimit: IMPORT_BODY_LIMIT,
  })
  import(@Param('projectId', IdPipe) projectId: string, @ContractBody() body: z.infer<typeof importCredentialsSchema>) {
    return this.imports.import(projectId, body.credentials);
  }
}
