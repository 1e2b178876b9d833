import { Controller, Get, Headers, Param, Post, Req } from '@nestjs/common';
import {
  credentialRequestSchema,
  credentialRequestViewSchema,
  polledCredentialRequestSchema,
  rotateApiKeySchema,
  rotatedApiKeySchema,
  submittedCredentialRequestSchema,
  type CredentialRequestInput,
  type RotateApiKey,
} from '@idm/domain';
import { z } from 'zod';
import { Contract, ContractBody } from '../openapi/contract.decorator';
import type { FastifyRequest } from 'fastify';
import { IdPipe } from '../problems/id.pipe';
import { SelfServiceThrottle } from '../throttling/self-service-throttle';
import { SelfServiceService } from './self-service.service';

const bearer = (header: string | undefined) => /^Bearer (\S+)$/.exec(header ?? '')?.[1];

@Controller('api/v1')
export class SelfServiceController {
  constructor(
    private readonly selfService: SelfServiceService,
    private readonly throttle: SelfServiceThrottle,
  ) {}

  @Post('self-service/credential-requests')
  @Contract({
    summary: 'Request a credential for a self-service proxy (the key comes at once when auto-approved)',
    body: credentialRequestSchema,
    status: 201,
    public: true,
    response: submittedCredentialRequestSchema,
  })
  request(@ContractBody() body: CredentialRequestInput, @Req() req: FastifyRequest) {
    return this.throttle.request(req.ip, () => this.selfService.request(body));
  }

  @Get('self-service/credential-requests/:requestId')
  @Contract({ summary: 'Poll a request with `Authorization: Bearer <pollSecret>`; an approved key is returned once', public: true, response: polledCredentialRequestSchema })
  poll(@Param('requestId', IdPipe) id: string, @Req() req: FastifyRequest, @Headers('authorization') authorization?: string) {
    return this.throttle.attempt(req.ip, () => this.selfService.poll(id, bearer(authorization)));
  }

  @Post('self-service/api-keys/rotate')
  @Contract({
    summary: 'Rotate the API key presented in x-api-key (old key works for the grace period)',
    body: rotateApiKeySchema,
    status: 201,
    public: true,
    response: rotatedApiKeySchema,
  })
  rotate(@Headers('x-api-key') apiKey: string | undefined, @ContractBody() body: RotateApiKey, @Req() req: FastifyRequest) {
    return this.throttle.attempt(req.ip, () => this.selfService.rotate(apiKey, body.graceSeconds));
  }

  @Get('projects/:projectId/credential-requests')
  @Contract({ summary: "List a project's self-service credential requests", response: z.array(credentialRequestViewSchema) })
  list(@Param('projectId', IdPipe) projectId: string) {
    return this.selfService.list(projectId);
  }

  @Post('projects/:projectId/credential-requests/:requestId/approve')
  @Contract({ summary: 'Approve a pending credential request', status: 200, response: credentialRequestViewSchema })
  approve(@Param('projectId', IdPipe) projectId: string, @Param('requestId', IdPipe) id: string) {
    return this.selfService.decide(projectId, id, true);
  }

  @Post('projects/:projectId/credential-requests/:requestId/reject')
  @Contract({ summary: 'Reject a pending credential request', status: 200, response: credentialRequestViewSchema })
  reject(@Param('projectId', IdPipe) projectId: string, @Param('requestId', IdPipe) id: string) {
    return this.selfService.decide(projectId, id, false);
  }
}
