import { Controller, Delete, Get, Param, Patch, Post } from '@nestjs/common';
import { createEndUserSchema, endUserSchema, listEndUsersQuerySchema, updateEndUserSchema, type CreateEndUser, type ListEndUsersQuery, type UpdateEndUser } from '@idm/domain';
import { z } from 'zod';
import { Contract, ContractBody, ContractQuery } from '../openapi/contract.decorator';
import { IdPipe } from '../problems/id.pipe';
import { EndUsersService } from './end-users.service';

@Controller('api/v1/projects/:projectId/users')
export class EndUsersController {
  constructor(private readonly users: EndUsersService) {}

  @Get()
  @Contract({
    summary: "List a project's end users, a page at a time by username; `search` matches username, email or name",
    query: listEndUsersQuerySchema,
    response: z.array(endUserSchema),
  })
  list(@Param('projectId', IdPipe) projectId: string, @ContractQuery() query: ListEndUsersQuery) {
    return this.users.list(projectId, query);
  }

  @Post()
  @Contract({
    summary: 'Create an end user (a credential with a profile, who can log in at the Gateway’s login page)',
    body: createEndUserSchema,
    status: 201,
    response: endUserSchema,
  })
  create(@Param('projectId', IdPipe) projectId: string, @ContractBody() body: CreateEndUser) {
    return this.users.create(projectId, body);
  }

  @Get(':userId')
  @Contract({ summary: 'Get an end user', response: endUserSchema })
  get(@Param('projectId', IdPipe) projectId: string, @Param('userId', IdPipe) id: string) {
    return this.users.get(projectId, id);
  }

  @Patch(':userId')
  @Contract({ summary: 'Update an end user: profile, roles, password, enabled (disable), locked', body: updateEndUserSchema, response: endUserSchema })
  update(@Param('projectId', IdPipe) projectId: string, @Param('userId', IdPipe) id: string, @ContractBody() body: UpdateEndUser) {
    return this.users.update(projectId, id, body);
  }

  @Get(':userId/consents')
  @Contract({
    summary: "The consents an end user gave OIDC clients at the Gateways' consent page, per environment",
    response: z.array(z.object({ environment: z.string(), clientId: z.string(), scopes: z.array(z.string()) })),
  })
  consents(@Param('projectId', IdPipe) projectId: string, @Param('userId', IdPipe) id: string) {
    return this.users.consentsOf(projectId, id);
  }

  @Delete(':userId/consents/:clientId')
  @Contract({ summary: "Revoke an end user's consent to an OIDC client in every environment (the next sign-in through it asks again)", status: 204 })
  async revokeConsent(@Param('projectId', IdPipe) projectId: string, @Param('userId', IdPipe) id: string, @Param('clientId', IdPipe) clientId: string): Promise<void> {
    await this.users.revokeConsent(projectId, id, clientId);
  }

  @Delete(':userId')
  @Contract({ summary: 'Delete an end user (and the credential it is)', status: 204 })
  async remove(@Param('projectId', IdPipe) projectId: string, @Param('userId', IdPipe) id: string): Promise<void> {
    await this.users.remove(projectId, id);
  }
}
