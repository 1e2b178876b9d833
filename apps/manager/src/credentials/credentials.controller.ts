import { Controller, Delete, Get, Param, Patch, Post } from '@nestjs/common';
import {
  createApiKeySchema,
  createCredentialSchema,
  createdCredentialSchema,
  credentialSchema,
  issuedApiKeySchema,
  rotatedApiKeySchema,
  listCredentialsQuerySchema,
  rotateApiKeySchema,
  updateCredentialSchema,
  type CreateApiKey,
  type CreateCredential,
  type ListCredentialsQuery,
  type RotateApiKey,
  type UpdateCredential,
} from '@idm/domain';
import { z } from 'zod';
import { Contract, ContractBody, ContractQuery } from '../openapi/contract.decorator';
import { IdPipe } from '../problems/id.pipe';
import { CredentialsService } from './credentials.service';

@Controller('api/v1/projects/:projectId/credentials')
export class CredentialsController {
  constructor(private readonly credentials: CredentialsService) {}

  @Get()
  @Contract({
    summary: "List a project's credentials, a page at a time by username (secrets never included)",
    query: listCredentialsQuerySchema,
    response: z.array(credentialSchema),
  })
  list(@Param('projectId', IdPipe) projectId: string, @ContractQuery() query: ListCredentialsQuery) {
    return this.credentials.list(projectId, query);
  }

  @Post()
  @Contract({ summary: 'Create a credential; its first API key is in the response, once', body: createCredentialSchema, status: 201, response: createdCredentialSchema })
  create(@Param('projectId', IdPipe) projectId: string, @ContractBody() body: CreateCredential) {
    return this.credentials.create(projectId, body);
  }

  @Get(':credentialId')
  @Contract({ summary: 'Get a credential', response: credentialSchema })
  get(@Param('projectId', IdPipe) projectId: string, @Param('credentialId', IdPipe) id: string) {
    return this.credentials.get(projectId, id);
  }

  @Patch(':credentialId')
  @Contract({ summary: 'Update a credential (enable/disable, expiry, password; null password removes it)', body: updateCredentialSchema, response: credentialSchema })
  update(@Param('projectId', IdPipe) projectId: string, @Param('credentialId', IdPipe) id: string, @ContractBody() body: UpdateCredential) {
    return this.credentials.update(projectId, id, body);
  }

  @Delete(':credentialId')
  @Contract({ summary: 'Delete a credential and its API keys', status: 204 })
  async remove(@Param('projectId', IdPipe) projectId: string, @Param('credentialId', IdPipe) id: string): Promise<void> {
    await this.credentials.remove(projectId, id);
  }

  @Post(':credentialId/api-keys')
  @Contract({ summary: 'Issue another API key; the key is in the response, once', body: createApiKeySchema, status: 201, response: issuedApiKeySchema })
  issueApiKey(@Param('projectId', IdPipe) projectId: string, @Param('credentialId', IdPipe) id: string, @ContractBody() body: CreateApiKey) {
    return this.credentials.issueApiKey(projectId, id, body);
  }

  @Post(':credentialId/api-keys/:apiKeyId/rotate')
  @Contract({
    summary: 'Rotate an API key: a new key (shown once) now, the old one works until the grace period ends',
    body: rotateApiKeySchema,
    status: 201,
    response: rotatedApiKeySchema,
  })
  rotateApiKey(
    @Param('projectId', IdPipe) projectId: string,
    @Param('credentialId', IdPipe) id: string,
    @Param('apiKeyId', IdPipe) keyId: string,
    @ContractBody() body: RotateApiKey,
  ) {
    return this.credentials.rotateApiKey(projectId, id, keyId, body);
  }

  @Delete(':credentialId/api-keys/:apiKeyId')
  @Contract({ summary: 'Revoke an API key', status: 204 })
  async revokeApiKey(@Param('projectId', IdPipe) projectId: string, @Param('credentialId', IdPipe) id: string, @Param('apiKeyId', IdPipe) keyId: string): Promise<void> {
    await this.credentials.revokeApiKey(projectId, id, keyId);
  }
}
