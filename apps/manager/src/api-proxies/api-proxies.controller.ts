import { Controller, Delete, Get, Param, Patch, Post } from '@nestjs/common';
import { apiProxySchema, createApiProxySchema, updateApiProxySchema, type CreateApiProxy, type UpdateApiProxy } from '@idm/domain';
import { z } from 'zod';
import { Contract, ContractBody } from '../openapi/contract.decorator';
import { IdPipe } from '../problems/id.pipe';
import { ApiProxiesService } from './api-proxies.service';

@Controller('api/v1/projects/:projectId/proxies')
export class ApiProxiesController {
  constructor(private readonly proxies: ApiProxiesService) {}

  @Get()
  @Contract({ summary: "List a project's API proxies", response: z.array(apiProxySchema) })
  list(@Param('projectId', IdPipe) projectId: string) {
    return this.proxies.list(projectId);
  }

  @Post()
  @Contract({ summary: 'Create an API proxy (deployed to the named environments)', body: createApiProxySchema, status: 201, response: apiProxySchema })
  create(@Param('projectId', IdPipe) projectId: string, @ContractBody() body: CreateApiProxy) {
    return this.proxies.create(projectId, body);
  }

  @Get(':proxyId')
  @Contract({ summary: 'Get an API proxy', response: apiProxySchema })
  get(@Param('projectId', IdPipe) projectId: string, @Param('proxyId', IdPipe) id: string) {
    return this.proxies.get(projectId, id);
  }

  @Patch(':proxyId')
  @Contract({ summary: 'Update an API proxy; fields left out stay as they are', body: updateApiProxySchema, response: apiProxySchema })
  update(@Param('projectId', IdPipe) projectId: string, @Param('proxyId', IdPipe) id: string, @ContractBody() body: UpdateApiProxy) {
    return this.proxies.update(projectId, id, body);
  }

  @Delete(':proxyId')
  @Contract({ summary: 'Delete an API proxy (undeploys it everywhere)', status: 204 })
  async remove(@Param('projectId', IdPipe) projectId: string, @Param('proxyId', IdPipe) id: string): Promise<void> {
    await this.proxies.remove(projectId, id);
  }
}
