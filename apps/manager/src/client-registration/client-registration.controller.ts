import { Controller, Delete, Get, Param, Post, Put } from '@nestjs/common';
import {
  clientRegistrationSettingsSchema,
  createdInitialAccessTokenSchema,
  createInitialAccessTokenSchema,
  initialAccessTokenSchema,
  type ClientRegistrationSettings,
  type CreateInitialAccessToken,
} from '@idm/domain';
import { z } from 'zod';
import { Contract, ContractBody } from '../openapi/contract.decorator';
import { IdPipe } from '../problems/id.pipe';
import { ClientRegistrationSettingsService } from './client-registration-settings.service';
import { InitialAccessTokensService } from './initial-access-tokens.service';

/** Dynamic client registration of a project: its switch, and the initial access tokens callers of `/credential/register` present. */
@Controller('api/v1/projects/:projectId')
export class ClientRegistrationController {
  constructor(
    private readonly settings: ClientRegistrationSettingsService,
    private readonly tokens: InitialAccessTokensService,
  ) {}

  @Get('client-registration')
  @Contract({ summary: 'Whether clients may register themselves in this project (RFC 7591, with an initial access token)', response: clientRegistrationSettingsSchema })
  getSettings(@Param('projectId', IdPipe) projectId: string) {
    return this.settings.get(projectId);
  }

  @Put('client-registration')
  @Contract({
    summary: "Turn dynamic client registration (RFC 7591/7592 at the Gateways' /credential/register) on or off for this project",
    body: clientRegistrationSettingsSchema,
    response: clientRegistrationSettingsSchema,
  })
  putSettings(@Param('projectId', IdPipe) projectId: string, @ContractBody() body: ClientRegistrationSettings) {
    return this.settings.put(projectId, body);
  }

  @Get('initial-access-tokens')
  @Contract({ summary: "The project's initial access tokens (never the tokens themselves)", response: z.array(initialAccessTokenSchema) })
  listTokens(@Param('projectId', IdPipe) projectId: string) {
    return this.tokens.list(projectId);
  }

  @Post('initial-access-tokens')
  @Contract({
    summary: 'Create an initial access token for dynamic client registration; the token is in the response, once',
    body: createInitialAccessTokenSchema,
    status: 201,
    response: createdInitialAccessTokenSchema,
  })
  createToken(@Param('projectId', IdPipe) projectId: string, @ContractBody() body: CreateInitialAccessToken) {
    return this.tokens.create(projectId, body);
  }

  @Delete('initial-access-tokens/:tokenId')
  @Contract({ summary: 'Revoke an initial access token (clients registered with it stay)', status: 204 })
  async revokeToken(@Param('projectId', IdPipe) projectId: string, @Param('tokenId', IdPipe) tokenId: string): Promise<void> {
    await this.tokens.revoke(projectId, tokenId);
  }
}
