import { Controller, Delete, Get, Param, Patch, Post } from '@nestjs/common';
import { createProjectSchema, projectSchema, updateProjectSchema, type CreateProject, type UpdateProject } from '@idm/domain';
import { z } from 'zod';
import { Contract, ContractBody } from '../openapi/contract.decorator';
import { IdPipe } from '../problems/id.pipe';
import { ProjectsService } from './projects.service';

@Controller('api/v1/projects')
export class ProjectsController {
  constructor(private readonly projects: ProjectsService) {}

  @Get()
  @Contract({ summary: 'List projects', response: z.array(projectSchema) })
  list() {
    return this.projects.list();
  }

  @Post()
  @Contract({ summary: 'Create a project', body: createProjectSchema, status: 201, response: projectSchema })
  create(@ContractBody() body: CreateProject) {
    return this.projects.create(body);
  }

  @Get(':projectId')
  @Contract({ summary: 'Get a project', response: projectSchema })
  get(@Param('projectId', IdPipe) id: string) {
    return this.projects.get(id);
  }

  @Patch(':projectId')
  @Contract({ summary: 'Update a project', body: updateProjectSchema, response: projectSchema })
  update(@Param('projectId', IdPipe) id: string, @ContractBody() body: UpdateProject) {
    return this.projects.update(id, body);
  }

  @Delete(':projectId')
  @Contract({ summary: 'Delete a project with its proxies and credentials', status: 204 })
  async remove(@Param('projectId', IdPipe) id: string): Promise<void> {
    await this.projects.remove(id);
  }
}
