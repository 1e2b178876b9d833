import { Controller, Get, Param, Post, Res } from '@nestjs/common';
import { apiopsAppliedSchema, apiopsBundleSchema, apiopsPlanSchema, apiopsRequestSchema } from '@idm/domain';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { Contract, ContractBody, ContractQuery } from '../openapi/contract.decorator';
import { IdPipe } from '../problems/id.pipe';
import { ApiopsService } from './apiops.service';
import { toPortableYaml } from './bundle-yaml';

const exportQuerySchema = z.strictObject({ format: z.enum(['json', 'yaml']).default('json') });

@Controller('api/v1')
export class ApiopsController {
  constructor(private readonly apiops: ApiopsService) {}

  @Post('apiops/plan')
  @Contract({ summary: 'Show what applying a project bundle would change', body: apiopsRequestSchema, status: 200, readOnly: true, response: apiopsPlanSchema })
  plan(@ContractBody() body: z.infer<typeof apiopsRequestSchema>) {
    return this.apiops.plan(body.bundle, body.prune);
  }

  @Post('apiops/apply')
  @Contract({ summary: 'Apply a project bundle in one transaction (audited with source apiops)', body: apiopsRequestSchema, status: 200, response: apiopsAppliedSchema })
  apply(@ContractBody() body: z.infer<typeof apiopsRequestSchema>) {
    return this.apiops.apply(body.bundle, body.prune);
  }

  @Get('projects/:projectId/bundle')
  @Contract({ summary: 'Export a project as a bundle (secrets omitted)', query: exportQuerySchema, response: apiopsBundleSchema, produces: 'application/yaml' })
  async export(@Param('projectId', IdPipe) projectId: string, @ContractQuery() query: z.infer<typeof exportQuerySchema>, @Res({ passthrough: true }) reply: FastifyReply) {
    const bundle = await this.apiops.export(projectId);
    if (query.format === 'json') return bundle;
    reply.header('content-type', 'application/yaml');
    return toPortableYaml(bundle);
  }
}
