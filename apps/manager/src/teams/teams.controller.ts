import { Controller, Delete, Get, Param, Patch, Post } from '@nestjs/common';
import { createTeamSchema, teamSchema, updateTeamSchema, type CreateTeam, type UpdateTeam } from '@idm/domain';
import { z } from 'zod';
import { Contract, ContractBody } from '../openapi/contract.decorator';
import { IdPipe } from '../problems/id.pipe';
import { TeamsService } from './teams.service';

@Controller('api/v1/projects/:projectId/teams')
export class TeamsController {
  constructor(private readonly teams: TeamsService) {}

  @Get()
  @Contract({ summary: "List a project's teams (team members see their own)", response: z.array(teamSchema) })
  list(@Param('projectId', IdPipe) projectId: string) {
    return this.teams.list(projectId);
  }

  @Post()
  @Contract({ summary: 'Create a team in a project', body: createTeamSchema, status: 201, response: teamSchema })
  create(@Param('projectId', IdPipe) projectId: string, @ContractBody() body: CreateTeam) {
    return this.teams.create(projectId, body);
  }

  @Get(':teamId')
  @Contract({ summary: 'Get a team', response: teamSchema })
  get(@Param('projectId', IdPipe) projectId: string, @Param('teamId', IdPipe) id: string) {
    return this.teams.get(projectId, id);
  }

  @Patch(':teamId')
  @Contract({ summary: 'Update a team', body: updateTeamSchema, response: teamSchema })
  update(@Param('projectId', IdPipe) projectId: string, @Param('teamId', IdPipe) id: string, @ContractBody() body: UpdateTeam) {
    return this.teams.update(projectId, id, body);
  }

  @Delete(':teamId')
  @Contract({ summary: 'Delete a team (refused while it owns proxies or credentials)', status: 204 })
  async remove(@Param('projectId', IdPipe) projectId: string, @Param('teamId', IdPipe) id: string): Promise<void> {
    await this.teams.remove(projectId, id);
  }
}
