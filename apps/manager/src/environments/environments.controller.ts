import { Controller, Delete, Get, Param, Patch, Post } from '@nestjs/common';
import { createEnvironmentSchema, environmentSchema, updateEnvironmentSchema, type CreateEnvironment, type UpdateEnvironment } from '@idm/domain';
import { z } from 'zod';
import { Contract, ContractBody } from '../openapi/contract.decorator';
import { IdPipe } from '../problems/id.pipe';
import { EnvironmentsService } from './environments.service';

@Controller('api/v1/environments')
export class EnvironmentsController {
  constructor(private readonly environments: EnvironmentsService) {}

  @Get()
  @Contract({ summary: 'List environments', response: z.array(environmentSchema) })
  list() {
    return this.environments.list();
  }

  @Post()
  @Contract({ summary: 'Create an environment', body: createEnvironmentSchema, status: 201, response: environmentSchema })
  create(@ContractBody() body: CreateEnvironment) {
    return this.environments.create(body);
  }

  @Get(':environmentId')
  @Contract({ summary: 'Get an environment', response: environmentSchema })
  get(@Param('environmentId', IdPipe) id: string) {
    return this.environments.get(id);
  }

  @Patch(':environmentId')
  @Contract({ summary: 'Update an environment', body: updateEnvironmentSchema, response: environmentSchema })
  update(@Param('environmentId', IdPipe) id: string, @ContractBody() body: UpdateEnvironment) {
    return this.environments.update(id, body);
  }

  @Delete(':environmentId')
  @Contract({ summary: 'Delete an environment (refused while proxies are deployed to it)', status: 204 })
  async remove(@Param('environmentId', IdPipe) id: string): Promise<void> {
    await this.environments.remove(id);
  }
}
