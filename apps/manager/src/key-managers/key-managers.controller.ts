import { Controller, Delete, Get, Param, Patch, Post } from '@nestjs/common';
import { createKeyManagerSchema, keyManagerSchema, updateKeyManagerSchema, type CreateKeyManager, type UpdateKeyManager } from '@idm/domain';
import { z } from 'zod';
import { Contract, ContractBody } from '../openapi/contract.decorator';
import { IdPipe } from '../problems/id.pipe';
import { KeyManagersService } from './key-managers.service';

@Controller('api/v1/key-managers')
export class KeyManagersController {
  constructor(private readonly keyManagers: KeyManagersService) {}

  @Get()
  @Contract({ summary: 'List key managers (trusted token issuers): System ones and those of projects the caller may read', response: z.array(keyManagerSchema) })
  list() {
    return this.keyManagers.list();
  }

  @Post()
  @Contract({
    summary: 'Create a key manager: built-in, or an external issuer by discovery URL or explicit issuer, JWKS URI and introspection endpoint (System scope without projectId)',
    body: createKeyManagerSchema,
    status: 201,
    response: keyManagerSchema,
  })
  create(@ContractBody() body: CreateKeyManager) {
    return this.keyManagers.create(body);
  }

  @Get(':keyManagerId')
  @Contract({ summary: 'Get a key manager (secrets only as set or not)', response: keyManagerSchema })
  get(@Param('keyManagerId', IdPipe) id: string) {
    return this.keyManagers.get(id);
  }

  @Patch(':keyManagerId')
  @Contract({ summary: 'Update a key manager (null removes an optional field or secret)', body: updateKeyManagerSchema, response: keyManagerSchema })
  update(@Param('keyManagerId', IdPipe) id: string, @ContractBody() body: UpdateKeyManager) {
    return this.keyManagers.update(id, body);
  }

  @Delete(':keyManagerId')
  @Contract({ summary: 'Delete a key manager (proxies naming it then refuse its tokens)', status: 204 })
  async remove(@Param('keyManagerId', IdPipe) id: string): Promise<void> {
    await this.keyManagers.remove(id);
  }
}
