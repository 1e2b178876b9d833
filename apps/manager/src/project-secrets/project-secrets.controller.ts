import { Controller, Delete, Get, Param, Patch, Post } from '@nestjs/common';
import {
  createProjectSecretSchema,
  projectSecretSchema,
  rotateProjectSecretSchema,
  updateProjectSecretSchema,
  type CreateProjectSecret,
  type RotateProjectSecret,
  type UpdateProjectSecret,
} from '@idm/domain';
import { z } from 'zod';
import { Contract, ContractBody } from '../openapi/contract.decorator';
import { IdPipe } from '../problems/id.pipe';
import { ProjectSecretsService } from './project-secrets.service';

@Controller('api/v1/projects/:projectId/secrets')
export class ProjectSecretsController {
  constructor(private readonly secrets: ProjectSecretsService) {}

  @Get()
  @Contract({ summary: "List a project's secrets (public parts only)", response: z.array(projectSecretSchema) })
  list(@Param('projectId', IdPipe) projectId: string) {
    return this.secrets.list(projectId);
  }

  @Post()
  @Contract({
    summary: 'Create a project secret (key, certificate, trust store or shared secret); its private material is never returned',
    body: createProjectSecretSchema,
    status: 201,
    response: projectSecretSchema,
  })
  create(@Param('projectId', IdPipe) projectId: string, @ContractBody() body: CreateProjectSecret) {
    return this.secrets.create(projectId, body);
  }

  @Get(':secretId')
  @Contract({ summary: 'Get a project secret (public parts only)', response: projectSecretSchema })
  get(@Param('projectId', IdPipe) projectId: string, @Param('secretId', IdPipe) id: string) {
    return this.secrets.get(projectId, id);
  }

  @Patch(':secretId')
  @Contract({ summary: 'Rename a project secret or change its description', body: updateProjectSecretSchema, response: projectSecretSchema })
  update(@Param('projectId', IdPipe) projectId: string, @Param('secretId', IdPipe) id: string, @ContractBody() body: UpdateProjectSecret) {
    return this.secrets.update(projectId, id, body);
  }

  @Post(':secretId/versions')
  @Contract({
    summary: 'Rotate a project secret: a new version; the replaced one stays usable for overlapSeconds',
    body: rotateProjectSecretSchema,
    status: 201,
    response: projectSecretSchema,
  })
  rotate(@Param('projectId', IdPipe) projectId: string, @Param('secretId', IdPipe) id: string, @ContractBody() body: RotateProjectSecret) {
    return this.secrets.rotate(projectId, id, body);
  }

  @Delete(':secretId')
  @Contract({ summary: 'Delete a project secret (refused while a proxy policy, a key manager or an oidc identity source refers to it: 409 secret_in_use)', status: 204 })
  async remove(@Param('projectId', IdPipe) projectId: string, @Param('secretId', IdPipe) id: string): Promise<void> {
    await this.secrets.remove(projectId, id);
  }
}
