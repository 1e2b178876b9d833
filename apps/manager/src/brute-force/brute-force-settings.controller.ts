import { projectBruteForceSettingsSchema, type ProjectBruteForceSettings } from '@idm/domain';
import { Controller, Delete, Get, Param, Put } from '@nestjs/common';
import { Contract, ContractBody } from '../openapi/contract.decorator';
import { IdPipe } from '../problems/id.pipe';
import { BruteForceSettingsService } from './brute-force-settings.service';

/** How the Gateways' brute-force detectors count failures against a project's credentials. */
@Controller('api/v1/projects/:projectId/brute-force-settings')
export class BruteForceSettingsController {
  constructor(private readonly settings: BruteForceSettingsService) {}

  @Get()
  @Contract({ summary: "The project's brute-force settings (null: the environment's detectors apply)", response: projectBruteForceSettingsSchema.nullable() })
  get(@Param('projectId', IdPipe) projectId: string) {
    return this.settings.get(projectId);
  }

  @Put()
  @Contract({
    summary: "Set the brute-force detectors for the project's credentials (fields left out keep the environment's values); every Gateway applies them within a second",
    body: projectBruteForceSettingsSchema,
    response: projectBruteForceSettingsSchema,
  })
  put(@Param('projectId', IdPipe) projectId: string, @ContractBody() body: ProjectBruteForceSettings) {
    return this.settings.put(projectId, body);
  }

  @Delete()
  @Contract({ summary: "Remove the project's brute-force settings (the environment's detectors apply again)", status: 204 })
  async remove(@Param('projectId', IdPipe) projectId: string): Promise<void> {
    await this.settings.remove(projectId);
  }
}
