import { Controller, Get, Param } from '@nestjs/common';
import {
  clientConsentPageSchema,
  listClientConsentsQuerySchema,
  listOidcClientsQuerySchema,
  oidcClientSummarySchema,
  type ListClientConsentsQuery,
  type ListOidcClientsQuery,
} from '@idm/domain';
import { z } from 'zod';
import { Contract, ContractQuery } from '../openapi/contract.decorator';
import { IdPipe } from '../problems/id.pipe';
import { EndUsersService } from './end-users.service';
import { OidcClientsService } from './oidc-clients.service';

@Controller('api/v1/projects/:projectId/oidc-clients')
export class OidcClientsController {
  constructor(
    private readonly clients: OidcClientsService,
    private readonly users: EndUsersService,
  ) {}

  @Get()
  @Contract({
    summary: "List a project's OIDC clients (credentials with OIDC client token settings), a page at a time by username",
    query: listOidcClientsQuerySchema,
    response: z.array(oidcClientSummarySchema),
  })
  list(@Param('projectId', IdPipe) projectId: string, @ContractQuery() query: ListOidcClientsQuery) {
    return this.clients.list(projectId, query);
  }

  @Get(':clientId/consents')
  @Contract({
    summary: "The end users' consents to one OIDC client, per environment: `limit` end users looked at per page (a page may be empty and still have a `next`)",
    query: listClientConsentsQuerySchema,
    response: clientConsentPageSchema,
  })
  consents(@Param('projectId', IdPipe) projectId: string, @Param('clientId', IdPipe) clientId: string, @ContractQuery() query: ListClientConsentsQuery) {
    return this.users.consentsToClient(projectId, clientId, query);
  }
}
