import { Controller, Delete, Get, Param, Put } from '@nestjs/common';
import { tokenSettingsSchema, type TokenSettings } from '@idm/domain';
import { Contract, ContractBody } from '../openapi/contract.decorator';
import { IdPipe } from '../problems/id.pipe';
import { TokenSettingsService } from './token-settings.service';

@Controller('api/v1/projects/:projectId/credentials/:credentialId/token-settings')
export class TokenSettingsController {
  constructor(private readonly settings: TokenSettingsService) {}

  @Get()
  @Contract({ summary: "A credential's token service settings (null: it cannot get tokens)", response: tokenSettingsSchema.nullable() })
  get(@Param('projectId', IdPipe) projectId: string, @Param('credentialId', IdPipe) id: string) {
    return this.settings.get(projectId, id);
  }

  @Put()
  @Contract({ summary: 'Set how the credential gets tokens at /credential/... on the Gateway', body: tokenSettingsSchema, response: tokenSettingsSchema })
  put(@Param('projectId', IdPipe) projectId: string, @Param('credentialId', IdPipe) id: string, @ContractBody() body: TokenSettings) {
    return this.settings.put(projectId, id, body);
  }

  @Delete()
  @Contract({ summary: 'Stop the credential from getting tokens', status: 204 })
  async remove(@Param('projectId', IdPipe) projectId: string, @Param('credentialId', IdPipe) id: string): Promise<void> {
    await this.settings.remove(projectId, id);
  }
}
